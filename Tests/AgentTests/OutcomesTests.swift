import CMOAgent
import CMOBasics
import CMOContract
import CMOStorage
import CMOTestSupport
import Foundation
import XCTest

/// What came back from Instantly, counted for a job (issue 28): by cmo's variant through the job's
/// send-instantly output, each lead once; the note on a difference; nothing back said as nothing; the
/// bounce guard's window, threshold, minimum and acknowledgement.
final class OutcomesTests: XCTestCase {
    var tmp: URL!

    override func setUpWithError() throws {
        tmp = URL(fileURLWithPath: Spawn.tempDirectory())
    }

    var environment: [String: String] { ["CMO_STATE_DIR": tmp.appendingPathComponent("state").path] }

    func store() throws -> SQLiteHookEventStore { try SQLiteHookEventStore.open(environment: environment) }

    /// A stored event as cmo-hooks stores it (its key from the payload's fields).
    @discardableResult
    func insert(_ s: HookEventStore, _ type: String, _ lead: String?, campaign: String = "C1", at: String = "2026-12-01T10:00:00.000Z",
                step: Int? = 1, variant: Int? = 0, hard: Bool? = nil) throws -> Bool {
        let t = HookEvent.normalisedType(type)
        var e = HookEvent(key: HookEvent.key(eventType: t, campaignID: campaign, leadEmail: lead, emailID: nil, step: step, timestamp: at),
                          eventType: t, outcome: HookEvent.outcome(of: t), timestamp: at, campaignID: campaign, leadEmail: lead?.lowercased(),
                          source: "webhook", receivedAt: at)
        e.step = step
        e.variant = variant
        e.hardBounce = hard
        return try s.insertIfNew(e, payload: Array("{}".utf8))
    }

    /// A job on campaign C1 whose send-instantly step queued `queued` (address → variant) and found `already` there before it.
    func job(queued: [(String, String)], already: [String] = [], campaign: String? = "C1") throws -> (RunDirectory, RunState) {
        let dir = RunDirectory(runs: tmp.appendingPathComponent("runs"), jobID: "job-1")
        try dir.create()
        var j = Job()
        j.target = 50
        j.languages = ["python"]
        j.instantlyCampaign = campaign
        let plan = RulePlanner.plan(j, options: RunOptions(config: nil, now: "2026-12-01T00:00:00Z", jobID: "job-1", dryRun: false),
                                    yields: RulePlanner.yields(stateDirectory: nil))
        var s = RunState(jobID: "job-1", goal: "50 Python maintainers", job: j, plan: plan, createdAt: "2026-12-01T00:00:00.000Z",
                         updatedAt: "2026-12-01T00:00:00.000Z")
        var step = StepRecord(n: 7, invocation: StageInvocation(stage: "send-instantly", argv: campaign.map { ["--campaign", $0] } ?? []))
        step.status = .done
        s.steps = [step]
        var lines = queued.map { #"{"login":"\#($0.0)","best_email":"\#($0.0.uppercased())","copy":{"variant":"\#($0.1)"},"instantly":{"status":"queued","campaign_id":"C1"}}"# }
        lines += already.map { #"{"login":"\#($0)","best_email":"\#($0)","copy":{"variant":"A"},"instantly":{"status":"already_queued","campaign_id":"C1"}}"# }
        try Data(lines.map { $0 + "\n" }.joined().utf8).write(to: dir.path(step.artifact))
        try dir.save(s)
        return (dir, s)
    }

    // MARK: counting

    func testCountsEachLeadOnceByTheJobsVariantFromTheStore() throws {
        let (dir, state) = try job(queued: [("a@x.io", "A"), ("b@x.io", "A"), ("c@x.io", "A"), ("d@x.io", "B"), ("e@x.io", "B"), ("f@x.io", "B")],
                                   already: ["old@x.io"])
        let s = try store()
        try insert(s, "email_sent", "a@x.io", step: 1)
        try insert(s, "email_sent", "A@X.IO", at: "2026-12-03T10:00:00.000Z", step: 2)  // a follow-up: a second email, the same lead
        try insert(s, "reply_received", "a@x.io", at: "2026-12-03T11:00:00.000Z")
        try insert(s, "lead_interested", "a@x.io", at: "2026-12-03T11:05:00.000Z")
        try insert(s, "email_opened", "a@x.io", at: "2026-12-03T10:30:00.000Z")  // kept, not counted
        try insert(s, "email_sent", "b@x.io")
        try insert(s, "email_bounced", "b@x.io", at: "2026-12-01T10:01:00.000Z", hard: true)
        try insert(s, "email_sent", "c@x.io")
        try insert(s, "lead_unsubscribed", "c@x.io", at: "2026-12-02T09:00:00.000Z")
        try insert(s, "email_sent", "d@x.io", variant: 0)
        try insert(s, "lead_out_of_office", "d@x.io", at: "2026-12-01T12:00:00.000Z")
        try insert(s, "email_sent", "e@x.io")
        try insert(s, "reply_received", "e@x.io", at: "2026-12-02T12:00:00.000Z")
        try insert(s, "lead_not_interested", "e@x.io", at: "2026-12-02T12:01:00.000Z")
        // Not this job's: another campaign, a lead queued by an earlier job, a lead it never sent.
        try insert(s, "reply_received", "a@x.io", campaign: "C2", at: "2026-12-04T10:00:00.000Z")
        try insert(s, "email_sent", "old@x.io")
        try insert(s, "email_bounced", "zed@x.io", at: "2026-12-05T10:00:00.000Z")
        // A delivery seen twice is stored once.
        XCTAssertFalse(try insert(s, "email_sent", "e@x.io"))

        let o = try XCTUnwrap(Outcomes.of(dir: dir, state: state, environment: environment))
        XCTAssertTrue(o.hasEvents)
        XCTAssertEqual(o.campaigns, ["C1"])
        XCTAssertEqual(Set(o.byVariant.keys), ["A", "B"], "f@x.io has had nothing back: it is not counted as sent")
        let a = try XCTUnwrap(o.byVariant["A"]), b = try XCTUnwrap(o.byVariant["B"])
        XCTAssertEqual([a.sent, a.emailsSent, a.replied, a.interested, a.notInterested, a.bounced, a.hardBounced, a.softBounced, a.unsubscribed],
                       [3, 4, 1, 1, 0, 1, 1, 0, 1])
        XCTAssertEqual([b.sent, b.emailsSent, b.replied, b.interested, b.notInterested, b.outOfOffice, b.bounced, b.unsubscribed], [2, 2, 1, 0, 1, 1, 0, 0])
        XCTAssertEqual(try XCTUnwrap(a.replyRate), 1.0 / 3, accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(b.bounceRate), 0)
        XCTAssertEqual(o.total.sent, 5)
        XCTAssertEqual(o.total.replied, 2)
        XCTAssertEqual(o.otherLeadsEvents, 2, "old@x.io (queued by an earlier job) and zed@x.io")
        XCTAssertEqual(o.latest, "2026-12-03T11:05:00.000Z")
        XCTAssertTrue(o.note.hasPrefix("too few to tell: A has 3 sent, B has 2 sent"), o.note)
        // The JSON the report carries.
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: JSONEncoder().encode(o)) as? [String: Any])
        let byVariant = try XCTUnwrap(json["by_variant"] as? [String: [String: Any]])
        XCTAssertEqual(byVariant["A"]?["replied"] as? Int, 1)
        XCTAssertEqual(byVariant["B"]?["not_interested"] as? Int, 1)
        XCTAssertEqual(byVariant["A"]?["unsubscribed"] as? Int, 1)
        // The text status and the chat give.
        XCTAssertTrue(o.text.contains("variant A: 3 sent, 1 replied (33.3%) [1 interested, 1 asked to unsubscribe], 1 bounced (1 hard), 1 unsubscribed"), o.text)
        XCTAssertTrue(o.text.contains("variant B: 2 sent, 1 replied (50.0%) [1 not interested, 1 out of office], 0 bounced, 0 unsubscribed"), o.text)
        XCTAssertTrue(ChatAnswers.outcomes("reply rate", dir: dir, state: state, environment: environment).contains("variant A: 3 sent"))
    }

    func testNothingBackIsSaidAsNothingNeverAsZeros() throws {
        let (dir, state) = try job(queued: [("a@x.io", "A")])
        // No store at all: nothing is created by reading.
        let none = try XCTUnwrap(Outcomes.of(dir: dir, state: state, environment: environment))
        XCTAssertFalse(none.hasEvents)
        XCTAssertTrue(none.byVariant.isEmpty)
        XCTAssertTrue(none.note.contains("no outcomes have come back yet") && none.note.contains("cmo-hooks serve") && none.note.contains("catch-up"), none.note)
        XCTAssertFalse(FileManager.default.fileExists(atPath: SQLiteHookEventStore.path(environment: environment)))
        XCTAssertTrue(ChatAnswers.outcomes("reply rate", dir: dir, state: state, environment: environment).hasPrefix("reply rate: not tracked yet for job job-1"))
        // A store with events of other leads only.
        try insert(try store(), "email_sent", "someone@else.io")
        let other = try XCTUnwrap(Outcomes.of(dir: dir, state: state, environment: environment))
        XCTAssertFalse(other.hasEvents)
        XCTAssertNotNil(other.store)
        XCTAssertTrue(other.note.hasPrefix("no outcomes have come back yet"), other.note)
        // A job that sends nothing has no outcomes at all.
        let (d2, s2) = try job(queued: [], campaign: nil)
        var s3 = s2
        s3.steps = []
        XCTAssertNil(Outcomes.of(dir: d2, state: s3, environment: environment))
    }

    // MARK: the note

    func testTheStatisticsAgainstKnownValues() throws {
        // 30/100 vs 10/100: z = 3.536, p = erfc(2.5) = 0.000407.
        XCTAssertEqual(try XCTUnwrap(OutcomeStats.twoProportionP(30, 100, 10, 100)), 0.000407, accuracy: 0.000002)
        XCTAssertEqual(try XCTUnwrap(OutcomeStats.twoProportionP(12, 100, 10, 100)), 0.6513, accuracy: 0.0005)
        XCTAssertNil(OutcomeStats.twoProportionP(0, 50, 0, 50))
        // Wilson 95%: 0/10 → 0–0.2775; 5/10 → 0.2366–0.7634.
        let w0 = OutcomeStats.wilson(0, 10), w5 = OutcomeStats.wilson(5, 10)
        XCTAssertEqual(w0.low, 0, accuracy: 1e-9)
        XCTAssertEqual(w0.high, 0.2775, accuracy: 0.0001)
        XCTAssertEqual(w5.low, 0.2366, accuracy: 0.0001)
        XCTAssertEqual(w5.high, 0.7634, accuracy: 0.0001)
    }

    func testTheNoteSaysTooFewAChanceDifferenceOrALargerOneAndNeverAWinner() {
        func counts(_ sent: Int, _ replied: Int) -> Outcomes.Counts {
            var c = Outcomes.Counts()
            (c.sent, c.replied) = (sent, replied)
            c.replyRate = Double(replied) / Double(sent)
            return c
        }
        XCTAssertEqual(Outcomes.comparison(["A": counts(100, 10)]), "one variant only: nothing to compare")
        XCTAssertTrue(Outcomes.comparison(["A": counts(100, 30), "B": counts(29, 1)]).hasPrefix("too few to tell: B has 29 sent"))
        let large = Outcomes.comparison(["A": counts(100, 10), "B": counts(100, 30)])
        XCTAssertTrue(large.hasPrefix("B 30.0% vs A 10.0% replied: a difference larger than chance would likely give (two-proportion z-test, p = 0.000)"), large)
        XCTAssertTrue(large.contains("not a winner"), large)
        let chance = Outcomes.comparison(["A": counts(100, 12), "B": counts(100, 10)])
        XCTAssertTrue(chance.hasPrefix("A 12.0% vs B 10.0% replied: the difference could be chance (two-proportion z-test, p = 0.651)"), chance)
        XCTAssertEqual(Outcomes.comparison(["A": counts(40, 0), "B": counts(40, 0)]), "no replies in either variant yet: nothing to compare")
    }

    // MARK: the bounce guard

    func event(_ type: String, _ lead: String, at: Date, campaign: String = "C1", hard: Bool? = nil) -> HookEvent {
        let ts = Timestamp.string(at)
        var e = HookEvent(key: "\(type)|\(lead)|\(ts)", eventType: type, outcome: HookEvent.outcome(of: type), timestamp: ts, campaignID: campaign,
                          leadEmail: lead, source: "webhook", receivedAt: ts)
        e.hardBounce = hard
        return e
    }

    func testTheBounceGuardCountsTheWindowOverTheMinimumAndOnlyNewBouncesAfterAGoAhead() throws {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let policy = BounceGuardPolicy()
        XCTAssertEqual([policy.windowHours, policy.maxShare, Double(policy.minSent)], [24, 8, 50])
        var events = (0..<60).map { event("email_sent", "l\($0)@x.io", at: now.addingTimeInterval(-3600)) }
        events += (0..<5).map { event("email_bounced", "l\($0)@x.io", at: now.addingTimeInterval(-1800), hard: $0 < 3 ? true : nil) }
        // Outside the window, or another campaign's: not counted.
        events += (0..<20).map { event("email_bounced", "old\($0)@x.io", at: now.addingTimeInterval(-25 * 3600)) }
        events += (0..<20).map { event("email_bounced", "o\($0)@x.io", at: now.addingTimeInterval(-60), campaign: "C2") }
        let c = policy.check(events, campaigns: ["C1"], now: now, acknowledgedThrough: nil)
        XCTAssertEqual(c.sent, 60)
        XCTAssertEqual(c.bounced.count, 5)
        XCTAssertTrue(c.trips, "5 of 60 is 8.3%, over 8%")
        XCTAssertEqual(c.reason(campaign: "C1"), "bounce guard: 5 of the 60 emails sent to campaign C1 in the last 24 h bounced (8.3%; 3 hard, 2 not said); the limit is 8%")
        // 4 of 60 (6.7%) does not; 1 of 3 does not either (under the minimum sent).
        XCTAssertFalse(policy.check(Array(events.prefix(64)), campaigns: ["C1"], now: now, acknowledgedThrough: nil).trips)
        let few = (0..<3).map { event("email_sent", "f\($0)@x.io", at: now) } + [event("email_bounced", "f0@x.io", at: now)]
        let small = policy.check(few, campaigns: ["C1"], now: now, acknowledgedThrough: nil)
        XCTAssertEqual(small.share, 100.0 / 3, accuracy: 1e-9)
        XCTAssertFalse(small.trips)
        // A person went on knowing the bounces through the newest: they no longer count; 5 newer ones trip it again.
        let through = Timestamp.string(now.addingTimeInterval(-1800))
        let acked = policy.check(events, campaigns: ["C1"], now: now, acknowledgedThrough: through)
        XCTAssertEqual(acked.bounced.count, 0)
        XCTAssertEqual(acked.acknowledged, 5)
        XCTAssertFalse(acked.trips)
        let newer = events + (5..<10).map { event("email_bounced", "l\($0)@x.io", at: now.addingTimeInterval(-60)) }
        let again = policy.check(newer, campaigns: ["C1"], now: now, acknowledgedThrough: through)
        XCTAssertEqual(again.bounced.count, 5)
        XCTAssertTrue(again.trips)
        XCTAssertTrue(again.reason(campaign: "C1").hasSuffix("(5 bounces acknowledged earlier not counted)"), again.reason(campaign: "C1"))
        var off = policy
        off.enabled = false
        XCTAssertFalse(off.check(events, campaigns: ["C1"], now: now, acknowledgedThrough: nil).trips)
    }

    func testTheBounceGuardSettingsComeFromTheConfig() throws {
        func config(_ text: String) throws -> String {
            let path = tmp.appendingPathComponent("c-\(UUID().uuidString).yaml").path
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            return path
        }
        XCTAssertEqual(try BounceGuardPolicy.load(config: nil), BounceGuardPolicy())
        let p = try BounceGuardPolicy.load(config: try config("bounce_guard:\n  window_hours: 6\n  max_share: 2.5\n  min-sent: 10\n"))
        XCTAssertEqual([p.windowHours, p.maxShare, Double(p.minSent)], [6, 2.5, 10])
        XCTAssertFalse(try BounceGuardPolicy.load(config: try config("bounce_guard:\n  enabled: false\n")).enabled)
        for bad in ["bounce_guard: 5\n", "bounce_guard:\n  max_share: 200\n", "bounce_guard:\n  window: 5\n", "bounce_guard:\n  min_sent: 0\n",
                    "bounce_guard:\n  max_share: lots\n", "bounce_guard:\n  enabled: maybe\n"] {
            XCTAssertThrowsError(try BounceGuardPolicy.load(config: try config(bad)), bad) { e in
                XCTAssertEqual((e as? CMOError)?.exitStatus, .config, "\(bad): \(e)")
            }
        }
    }

    // MARK: the chat's questions

    func testTheChatReadsOutcomeQuestionsAndAGoAheadPastTheGuard() {
        XCTAssertEqual(ChatIntent.read("what's the reply rate?"), .outcomes("reply rate"))
        XCTAssertEqual(ChatIntent.read("how many replied?"), .outcomes("replies"))
        XCTAssertEqual(ChatIntent.read("any bounces?"), .outcomes("bounces"))
        XCTAssertEqual(ChatIntent.read("show unsubscribes"), .outcomes("unsubscribes"))
        XCTAssertEqual(ChatIntent.read("how is variant B doing?"), .outcomes("variant"))
        XCTAssertEqual(ChatIntent.read("what's the open rate?"), .notTracked("open rate"))
        XCTAssertEqual(ChatIntent.read("resume anyway"), .resumeAnyway)
        XCTAssertEqual(ChatIntent.read("accept the bounces and go on"), .resumeAnyway)
        XCTAssertEqual(ChatIntent.read("resume"), .resume)
    }
}
