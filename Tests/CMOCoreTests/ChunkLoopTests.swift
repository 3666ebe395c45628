import Foundation
import XCTest

@testable import CMOBasics
@testable import CMOStageKit

#if canImport(Glibc)
    import Glibc
#endif

/// The one chunk-and-flush loop: chunks of `size` and the tail, records through --where and dead
/// letters, stdout flushed after each chunk, an early stop that reads no further.
final class ChunkLoopTests: XCTestCase {
    override func setUp() {
        signal(SIGPIPE, SIG_IGN)  // as every stage does: a closed pipe is EPIPE, not death
    }

    /// A stage context reading `input` from a file and writing to a pipe whose read end is returned.
    private func context(_ input: String, _ flags: [String] = []) throws -> (StageContext, readEnd: Int32, deadLetters: String) {
        let dir = NSTemporaryDirectory() + "cmo-chunks-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        try input.write(toFile: dir + "/in.ndjson", atomically: true, encoding: .utf8)
        let inFD = open(dir + "/in.ndjson", O_RDONLY)
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        _ = fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK)
        addTeardownBlock {
            close(inFD)
            close(fds[0])
            close(fds[1])
        }
        let common = try CommonOptions.parse(["--dead-letter", dir + "/dl.ndjson", "-q"] + flags)
        let ctx = try StageContext(stage: "chunk-test", common: common, environment: [:], inputFD: inFD, outputFD: fds[1])
        try ctx.compileWhere()
        return (ctx, fds[0], dir + "/dl.ndjson")
    }

    private func lines(_ n: Int) -> String { (1...n).map { #"{"n":\#($0)}"# + "\n" }.joined() }

    /// What has reached the output pipe so far, as lines.
    private func drain(_ fd: Int32) -> [String] {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { break }
            out += buffer[..<n]
        }
        return String(decoding: out, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    func testChunksOfSizeThenTheTail() throws {
        let (ctx, _, _) = try context(lines(7))
        var sizes: [Int] = []
        var seen: [Int] = []
        try ctx.forEachChunk(size: 3) { chunk in
            sizes.append(chunk.count)
            seen += chunk.compactMap { $0["n"]?.intValue }
        }
        XCTAssertEqual(sizes, [3, 3, 1])
        XCTAssertEqual(seen, Array(1...7), "input order")
        XCTAssertEqual(ctx.recordsIn, 7)
    }

    func testEmptyInputCallsNothing() throws {
        let (ctx, _, _) = try context("")
        var calls = 0
        try ctx.forEachChunk(size: 3) { _ in calls += 1 }
        XCTAssertEqual(calls, 0)
    }

    func testWhereDeadLettersAndPrepareLeaveRecordsOut() throws {
        let input = lines(4) + "not json\n" + #"{"n":5,"skip":true}"# + "\n" + #"{"n":6}"# + "\n"
        let (ctx, _, deadLetters) = try context(input, ["--where", ".n != 2"])
        var chunks: [[Int]] = []
        let tenfold = { (record: Record) -> Int? in
            if record["skip"] != nil {
                ctx.deadLetter(record, code: "skipped", message: "told to")
                return nil
            }
            return record["n"]!.intValue! * 10
        }
        try ctx.forEachChunk(size: 2, prepare: tenfold) { chunks.append($0) }
        XCTAssertEqual(chunks, [[10, 30], [40, 60]])
        XCTAssertEqual(ctx.filtered["where"], 1)
        let letters = try String(contentsOfFile: deadLetters, encoding: .utf8)
        XCTAssertTrue(letters.contains("\"skipped\""), letters)
        XCTAssertEqual(letters.split(separator: "\n").count, 2, "the bad line and the skipped record")
    }

    func testOutputIsFlushedAfterEachChunk() throws {
        let (ctx, readEnd, _) = try context(lines(6))
        var seenBefore: [[String]] = []
        try ctx.forEachChunk(size: 2) { chunk in
            seenBefore.append(drain(readEnd))
            for r in chunk { try ctx.emit(r) }
        }
        XCTAssertEqual(seenBefore.map(\.count), [0, 2, 2], "each chunk's records are out before the next chunk starts")
        XCTAssertEqual(drain(readEnd).count, 2, "and the tail's after it")
    }

    func testAClosedPipeStopsBeforeTheNextChunk() throws {
        let (ctx, readEnd, _) = try context(lines(6))
        close(readEnd)
        var calls = 0
        XCTAssertThrowsError(
            try ctx.forEachChunk(size: 2) { chunk in
                calls += 1
                for r in chunk { try ctx.emit(r) }
            }
        ) { XCTAssertTrue($0 is OutputClosed, "\($0)") }
        XCTAssertEqual(calls, 1, "no requests for the next chunk once nobody reads")
    }

    func testAStopReadsNoFurther() throws {
        let (ctx, _, _) = try context(lines(10))
        let same = { (record: Record) -> Record? in record }
        var chunks = 0
        let stopped = try ctx.forEachChunkUntilStopped(size: 3, prepare: same) { _ in
            chunks += 1
            return chunks == 2 ? .stopReading : .continueReading
        }
        XCTAssertTrue(stopped)
        XCTAssertEqual(chunks, 2)
        XCTAssertEqual(ctx.recordsIn, 6, "the input after the stop is not read")

        let (all, _, _) = try context(lines(4))
        let stoppedAtTail = try all.forEachChunkUntilStopped(size: 3, prepare: same) { _ in .stopReading }
        XCTAssertTrue(stoppedAtTail, "a full chunk stopped the loop")
        let (tail, _, _) = try context(lines(2))
        XCTAssertFalse(try tail.forEachChunkUntilStopped(size: 3, prepare: same) { _ in .stopReading }, "the tail: all was read")
    }

    func testSizeMaxHandsEverythingOverAtTheEnd() throws {
        let (ctx, _, _) = try context(lines(50))
        var sizes: [Int] = []
        try ctx.forEachChunk(size: .max) { sizes.append($0.count) }
        XCTAssertEqual(sizes, [50])
    }
}
