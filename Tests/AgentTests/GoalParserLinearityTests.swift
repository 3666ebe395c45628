import CMOTestSupport
import Foundation
import XCTest

@testable import CMOAgent

/// Issue 27: text work is linear. The rule parser reads a goal of any length in time linear in its
/// words (cmo-plan refuses a goal over `GoalParser.maxWords` words before reading it, but the chat
/// and the model parser's fallback hand it text directly). Each shape is about 256 KB (32,000 to
/// 130,000 words, far past the cap): the quadratic de-duplication of topics took minutes on twice that,
/// a linear reading takes seconds (debug build, even with other tests running beside it), so 30 s is a
/// generous bound. Timings of the binary live
/// in bench/text-linear.sh (the cmo-plan cases).
final class GoalParserLinearityTests: XCTestCase {
    private static let goal = "find 200 rust maintainers active in the last 30 days and export a csv "

    /// A distinct word of letters only.
    private static func letters(_ i: Int) -> String {
        var i = i, s = ""
        repeat {
            s = String(UnicodeScalar(UInt8(97 + i % 26))) + s
            i /= 26
        } while i > 0
        return s
    }

    static func shapes(size n: Int) -> [(String, String)] {
        [
            ("many short tokens", goal + String(repeating: "rust ", count: n / 5)),
            ("one long token", goal + String(repeating: "a", count: n)),
            ("deep quotes", goal + String(repeating: "'\"", count: n / 2)),
            ("many distinct topics", goal + (0..<(n / 8)).map { "#t" + letters($0) }.joined(separator: " ")),
            ("one topic list", goal + "topics " + (0..<(n / 8)).map { "t" + letters($0) }.joined(separator: " ")),
            ("many topics in one key=value", goal + "topics=" + (0..<(n / 8)).map { "t" + letters($0) }.joined(separator: ",")),
            ("many distinct names", goal + (0..<(n / 8)).map { "X" + letters($0) }.joined(separator: " ")),
            ("many numbers", goal + String(repeating: "7 ", count: n / 2)),
            ("number words", goal + "two " + String(repeating: "hundred ", count: n / 8)),
            ("many commas", goal + String(repeating: "rust,", count: n / 5)),
            ("many slashes", goal + String(repeating: "go/", count: n / 3)),
            ("many sentences", String(repeating: "Find rust devs. ", count: n / 16)),
        ]
    }

    func testTheRuleParserIsLinearOnLongGoals() {
        for (shape, goal) in Self.shapes(size: 1 << 18) {
            let start = Date()
            let parse = GoalParser.parse(goal)
            let seconds = Date().timeIntervalSince(start)
            _ = parse.refusal
            print("GoalParser.parse, 256 KB of \(shape): \(String(format: "%.2f", seconds)) s (\(parse.tokens.count) tokens)")
            XCTAssertLessThan(seconds, 30, "GoalParser.parse on 256 KB of \(shape) took \(seconds) s")
        }
    }

    /// cmo-plan refuses a goal over `GoalParser.maxWords` words at once (exit 64, nothing written), in
    /// one argument or many; 20,000 separate words took 15 s in ArgumentParser before (its parse of a
    /// repeated argument is quadratic), now they never reach it. A goal of exactly the cap is read.
    func testCmoPlanRefusesAGoalLongerThanItReads() throws {
        let dir = Spawn.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let env = ["CMO_RUNS_DIR": dir + "/runs", "CMO_STATE_DIR": dir + "/state"]
        let head = "find 200 rust maintainers"  // 4 words
        let atCap = head + String(repeating: " rust", count: GoalParser.maxWords - 4)
        let ok = try Spawn.run("cmo-plan", ["parse", atCap], environment: env)
        XCTAssertEqual(ok.status, 0, ok.err)
        for command in ["parse", "plan", "run", "submit"] {
            let r = try Spawn.run("cmo-plan", [command, atCap + " rust"], environment: env)
            XCTAssertEqual(r.status, 64, "\(command): \(r.err)")
            XCTAssertTrue(r.err.contains("a goal of 1001 words is longer than cmo reads (at most 1000)"), "\(command): \(r.err)")
            XCTAssertEqual(r.out, "", command)
        }
        let start = Date()
        let many = try Spawn.run("cmo-plan", ["parse"] + head.split(separator: " ").map(String.init) + Array(repeating: "rust", count: 20_000), environment: env)
        XCTAssertLessThan(Date().timeIntervalSince(start), 5, "20,004 words as arguments")
        XCTAssertEqual(many.status, 64, many.err)
        XCTAssertTrue(many.err.contains("a goal of 20004 words is longer than cmo reads (at most 1000)"), many.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/runs"), "no run directory for a goal that was not read")
    }

    /// A goal keeps its meaning however many times a word repeats, and a topic named twice is one topic.
    func testRepeatedWordsAndTopicsAreReadOnce() {
        let parse = GoalParser.parse(Self.goal + String(repeating: "rust ", count: 1000) + "#ml #ai #ml")
        XCTAssertNil(parse.refusal)
        XCTAssertEqual(parse.job.languages, ["rust"])
        XCTAssertEqual(parse.job.topics, ["ml", "ai"])
        XCTAssertEqual(parse.job.target, 200)
    }
}
