import CMOAgent
import Foundation
import XCTest

/// PipelineRun and spawnAndWait: tee/splice pumps, stages that exit early or die, spawn errors, fd hygiene, environment.
final class SpawnTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("spawn-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    func read(_ name: String) throws -> Data { try Data(contentsOf: dir.appendingPathComponent(name)) }

    func text(_ name: String) throws -> String { String(decoding: try read(name), as: UTF8.self) }

    func stage(_ n: Int, _ executable: String, _ arguments: String..., stdin: String? = nil) -> StageSpec {
        StageSpec(executable: executable, arguments: arguments, stdin: stdin, artifact: path("\(n).out"), log: path("\(n).log"))
    }

    /// 5 MB of NDJSON-ish lines, lowercase, uppercase and digits, from a fixed seed.
    func writeInput() throws -> Data {
        var seed: UInt64 = 42
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABC0123456789{}\":,".utf8)
        let bytes = (0..<5_000_000).map { i -> UInt8 in
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return i % 97 == 96 ? 10 : alphabet[Int(seed >> 33) % alphabet.count]
        }
        let data = Data(bytes)
        try data.write(to: dir.appendingPathComponent("in"))
        return data
    }

    func testThreeStagePipelineKeepsEveryStagesOutput() throws {
        let input = try writeInput()
        let run = try PipelineRun([stage(0, "/bin/cat", stdin: path("in")), stage(1, "/usr/bin/tr", "a-z", "A-Z"), stage(2, "/bin/cat")])
        XCTAssertEqual(try run.start().count, 3)
        XCTAssertEqual(run.wait(), [0, 0, 0])
        let upper = Data(input.map { (97...122).contains($0) ? $0 - 32 : $0 })
        XCTAssertEqual(try read("0.out"), input)
        XCTAssertEqual(try read("1.out"), upper)
        XCTAssertEqual(try read("2.out"), upper)
        XCTAssertEqual(run.wait(), [0, 0, 0])
    }

    func testDownstreamThatExitsEarlyNeitherBlocksNorTruncatesUpstream() throws {
        let input = try writeInput()
        let head = try PipelineRun([stage(0, "/bin/cat", stdin: path("in")), stage(1, "/usr/bin/head", "-c", "10")])
        _ = try head.start()
        XCTAssertEqual(head.wait(), [0, 0])
        XCTAssertEqual(try read("0.out"), input)
        XCTAssertEqual(try read("1.out"), input.prefix(10))

        let early = try PipelineRun([stage(0, "/bin/cat", stdin: path("in")), stage(1, "/bin/true"), stage(2, "/bin/cat")])
        _ = try early.start()
        XCTAssertEqual(early.wait(), [0, 0, 0])
        XCTAssertEqual(try read("0.out"), input)
        XCTAssertEqual(try read("1.out"), Data())
        XCTAssertEqual(try read("2.out"), Data())
    }

    func testStageKilledBySIGKILLReports137() throws {
        XCTAssertEqual(try spawnAndWait(stage(0, "/bin/sh", "-c", "kill -9 $$")), 137)
        let run = try PipelineRun([stage(0, "/bin/echo", "x"), stage(1, "/bin/sh", "-c", "kill -9 $$"), stage(2, "/bin/cat")])
        _ = try run.start()
        XCTAssertEqual(run.wait(), [0, 137, 0])
        XCTAssertEqual(try text("0.out"), "x\n")
    }

    func testMissingExecutableThrowsWithItsName() throws {
        for name in ["/nonexistent/cmo-missing-stage", "cmo-missing-stage"] {
            XCTAssertThrowsError(try spawnAndWait(stage(0, name))) { XCTAssertTrue("\($0)".contains(name), "\($0)") }
        }
        let run = try PipelineRun([stage(0, "/bin/sleep", "30"), stage(1, "/nonexistent/cmo-missing-stage")])
        XCTAssertThrowsError(try run.start()) { XCTAssertTrue("\($0)".contains("/nonexistent/cmo-missing-stage"), "\($0)") }
        XCTAssertEqual(run.wait(), [137], "the stage already spawned is killed and reaped")
        XCTAssertThrowsError(try PipelineRun([]))
    }

    func testChildrenSeeOnlyTheirStdio() throws {
        let stray = open("/dev/null", O_RDONLY)  // no O_CLOEXEC: must not reach children either
        defer { close(stray) }
        let count = "ls /proc/self/fd | wc -l"
        XCTAssertEqual(try spawnAndWait(stage(0, "/bin/sh", "-c", count)), 0)
        XCTAssertEqual(try text("0.out").trimmingCharacters(in: .whitespacesAndNewlines), "4")
        let run = try PipelineRun([
            stage(0, "/bin/echo", "x"), stage(1, "/bin/sh", "-c", "cat >/dev/null; \(count)"), stage(2, "/bin/sh", "-c", count),
        ])
        _ = try run.start()
        XCTAssertEqual(run.wait(), [0, 0, 0])
        XCTAssertEqual(try text("1.out").trimmingCharacters(in: .whitespacesAndNewlines), "4")
        XCTAssertEqual(try text("2.out").trimmingCharacters(in: .whitespacesAndNewlines), "4")
    }

    func testEnvironmentStdinAndLogPassThrough() throws {
        let env = ["CMO_SPAWN_TEST": "a b=c", "PATH": "/usr/bin:/bin"]
        XCTAssertEqual(try spawnAndWait(StageSpec(executable: "env", environment: env, artifact: path("0.out"), log: path("0.log"))), 0)
        XCTAssertEqual(try text("0.out").split(separator: "\n").sorted(), ["CMO_SPAWN_TEST=a b=c", "PATH=/usr/bin:/bin"])

        try Data("hello\n".utf8).write(to: dir.appendingPathComponent("in"))
        let run = try PipelineRun([
            stage(0, "/bin/sh", "-c", "echo oops >&2; cat; exit 3", stdin: path("in")),
            StageSpec(
                executable: "/bin/sh", arguments: ["-c", "cat; echo $CMO_SPAWN_TEST"], environment: env, artifact: path("1.out"),
                log: path("1.log")),
        ])
        _ = try run.start()
        XCTAssertEqual(run.wait(), [3, 0])
        XCTAssertEqual(try text("0.log"), "oops\n")
        XCTAssertEqual(try text("0.out"), "hello\n")
        XCTAssertEqual(try text("1.out"), "hello\na b=c\n")
        XCTAssertEqual(try spawnAndWait(stage(2, "/bin/cat")), 0, "no stdin file reads /dev/null")
        XCTAssertEqual(try read("2.out"), Data())
    }
}
