import CMOTestSupport
import Foundation
import XCTest

/// A negative --max-errors is refused before anything is read, whichever way it was given, with a
/// message naming the setting and where the value came from.
final class MaxErrorsSettingTests: XCTestCase {
    static let input = #"{"a":1}"# + "\nnot json\n"

    private func exportCSV(_ args: [String], env: [String: String] = [:]) throws -> SpawnResult {
        try Spawn.run("export-csv", ["--columns", "a"] + args, stdin: Data(Self.input.utf8), environment: env)
    }

    func testFromTheEnvironmentIs78NamingTheVariable() throws {
        let r = try exportCSV([], env: ["CMO_MAX_ERRORS": "-1"])
        XCTAssertEqual(r.status, 78, r.err)
        XCTAssertTrue(r.err.contains("CMO_MAX_ERRORS=-1") && r.err.contains("'max-errors' must be 0 or more"), r.err)
        XCTAssertEqual(r.out, "", "nothing read or written")
        XCTAssertFalse(r.err.contains(" in, "), "a set-up error has no summary: \(r.err)")
    }

    func testFromAConfigFileIs78NamingTheFile() throws {
        let dir = Spawn.tempDirectory()
        for (name, yaml) in [("top.yaml", "max-errors: -1\n"), ("section.yaml", "export-csv:\n  max_errors: -3\n")] {
            try yaml.write(toFile: dir + "/" + name, atomically: true, encoding: .utf8)
            let r = try exportCSV(["--config", dir + "/" + name])
            XCTAssertEqual(r.status, 78, "\(name): \(r.err)")
            XCTAssertTrue(r.err.contains("config '\(dir)/\(name)'") && r.err.contains("'max-errors' must be 0 or more"), r.err)
            XCTAssertEqual(r.out, "")
        }
        // --print-config refuses it too, rather than showing a value the stage cannot use.
        let printed = try exportCSV(["--config", dir + "/top.yaml", "--print-config"])
        XCTAssertEqual(printed.status, 78, printed.err)
    }

    func testAFlagIsAUsageErrorAndZeroIsFine() throws {
        let flag = try exportCSV(["--max-errors", "-1"])
        XCTAssertEqual(flag.status, 64, flag.err)
        let zero = try exportCSV(["--dead-letter", "/dev/null"], env: ["CMO_MAX_ERRORS": "0"])
        XCTAssertEqual(zero.status, 1, "one dead letter is over 0: \(zero.err)")
    }
}
