import CMOAgent
import Foundation
import XCTest

/// The chat's rule interpreter on follow-ups as people type them, and triage's spike rule.
final class ChatInterpreterTests: XCTestCase {
    func testFollowUps() {
        XCTAssertEqual(ChatIntent.read("status"), .status)
        XCTAssertEqual(ChatIntent.read("how's it going?"), .status)
        XCTAssertEqual(ChatIntent.read("How many have we queued?"), .queuedCount)
        XCTAssertEqual(ChatIntent.read("pause"), .pause)
        XCTAssertEqual(ChatIntent.read("resume"), .resume)
        XCTAssertEqual(ChatIntent.read("cancel it"), .cancel)
        XCTAssertEqual(ChatIntent.read("raise the target to 3k"), .target(3000))
        XCTAssertEqual(ChatIntent.read("set target 2,500"), .target(2500))
        XCTAssertEqual(ChatIntent.read("skip sending, export only"), .skipWriters)
        XCTAssertEqual(ChatIntent.read("don't send anything"), .skipWriters)
        XCTAssertEqual(ChatIntent.read("why did 30 fail?"), .whyFailed)
        XCTAssertEqual(ChatIntent.read("y"), .yes)
        XCTAssertEqual(ChatIntent.read("no"), .no)
        XCTAssertEqual(ChatIntent.read("quit"), .quit)
        XCTAssertEqual(ChatIntent.read("Find 200 Go maintainers"), .goal("Find 200 Go maintainers"))
        XCTAssertEqual(ChatIntent.read("what is the weather"), .unknown("what is the weather"))
    }

    /// What the model's `read_line` answer may say: a known intent, a target only with `target`, and a target
    /// that is a figure of the line when it has figures.
    func testAModelsReadingIsChecked() throws {
        XCTAssertEqual(try ModelChatInterpreter.check(#"{"intent":"target","target":3000}"#, line: "raise it to 3k"), .target(3000))
        XCTAssertEqual(try ModelChatInterpreter.check(#"{"intent":"target","target":3000}"#, line: "bump it to 3 thousand"), .target(3000))
        XCTAssertEqual(try ModelChatInterpreter.check(#"{"intent":"target","target":3000}"#, line: "three thousand, please"), .target(3000))
        XCTAssertEqual(try ModelChatInterpreter.check(#"{"intent":"goal"}"#, line: " Find 9 Go devs "), .goal("Find 9 Go devs"))
        XCTAssertEqual(try ModelChatInterpreter.check(#"{"intent":"queued_count"}"#, line: "sent?"), .queuedCount)
        for (args, line) in [
            (#"{"intent":"target","target":3}"#, "raise it to 3k"),
            (#"{"intent":"target"}"#, "raise it"),
            (#"{"intent":"status","target":5}"#, "status"),
            (#"{"intent":"target","target":true}"#, "more"),
            (#"{"intent":"delete_everything"}"#, "status"),
            (#"{"intent":"status","why":"x"}"#, "status"),
            (#"{"intent":"status""#, "status"),
        ] {
            XCTAssertThrowsError(try ModelChatInterpreter.check(args, line: line), args)
        }
        XCTAssertEqual(ChatIntent.read("raise the target to 3k."), .target(3000), "a full stop after the figure")
        XCTAssertEqual(ChatIntent.read("bump it to 3k leads"), .unknown("bump it to 3k leads"), "the rules do not read this; a model does (CMOPlanQueueTests)")
    }

    func testTriageSpikes() {
        var p = TriagePolicy()
        p.window = 4
        p.failedShare = 50
        p.errorStreak = 3
        XCTAssertNil(p.spike([]))
        XCTAssertNil(p.spike([false, false, false, true]))
        XCTAssertNotNil(p.spike([false, false, true, true]), "2 of the last 4")
        XCTAssertNotNil(p.spike([false, true, true, true]), "a streak of 3")
        XCTAssertNil(p.spike([true, false, false, false, false]), "an old failure outside the window")
    }
}
