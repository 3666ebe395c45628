import CMOBasics
import CMOContract
import CMOServices
import CMOStorage
import CMOTestSupport
import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// cmo-hooks, spawned: the receiver (secret, dedupe, limits, durability, shutdown), catch-up and register
/// against a fake Instantly that serves the spec's shapes (`ScriptedHTTPServer`).
final class CMOHooksTests: XCTestCase {
    private var dir = ""
    private var state: String { dir + "/state" }
    private let secret = "s3cret-0123456789abcdef"
    private let campaign = "0f6a7c2e-1111-4222-8333-444455556666"

    override func setUp() { dir = Spawn.tempDirectory() }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    // MARK: - A running receiver

    /// `cmo-hooks serve --port 0` in the background, stdout and stderr to files.
    final class Server {
        let process = Process()
        let outPath: String
        let errPath: String
        private(set) var port = 0

        init(dir: String, environment: [String: String], arguments: [String] = [], port: Int = 0, stdout: String? = nil) throws {
            outPath = dir + "/serve-\(UUID().uuidString).out"
            errPath = outPath + ".err"
            FileManager.default.createFile(atPath: outPath, contents: nil)
            FileManager.default.createFile(atPath: errPath, contents: nil)
            process.executableURL = URL(fileURLWithPath: Spawn.executable("cmo-hooks"))
            process.arguments = ["serve", "--port", String(port)] + arguments
            process.environment = ["PATH": "/usr/bin:/bin", "HOME": dir, "LANG": "C.UTF-8"].merging(environment) { _, n in n }
            process.standardInput = FileHandle(forReadingAtPath: "/dev/null")
            process.standardOutput = FileHandle(forWritingAtPath: stdout ?? outPath)
            process.standardError = FileHandle(forWritingAtPath: errPath)
            try process.run()
            let deadline = Date().addingTimeInterval(20)
            while Date() < deadline, process.isRunning {
                if let range = err.range(of: #"127\.0\.0\.1:(\d+)/"#, options: .regularExpression) {
                    self.port = Int(err[range].dropFirst("127.0.0.1:".count).dropLast()) ?? 0
                    return
                }
                usleep(10_000)
            }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            throw HooksTestFailure(description: "cmo-hooks serve did not start: \(err)")
        }

        var out: String { (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "" }
        var err: String { (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "" }
        var lines: [[String: Any]] {
            out.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        }

        /// Sends a signal and waits for the exit status.
        @discardableResult
        func stop(_ signal: Int32 = SIGTERM) -> Int32 {
            if process.isRunning { kill(process.processIdentifier, signal) }
            process.waitUntilExit()
            return process.terminationStatus
        }

        deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
    }

    /// A request with curl: (status, body).
    private func request(
        _ port: Int, _ path: String = "/", method: String = "POST", body: Data? = nil, headers: [String: String] = [:]
    ) throws -> (Int, String) {
        var args = ["-s", "-o", "-", "-w", "\n%{http_code}", "-X", method, "-H", "Content-Type: application/json"]
        for (k, v) in headers { args += ["-H", "\(k): \(v)"] }
        if let body {
            let file = dir + "/body-\(UUID().uuidString)"
            FileManager.default.createFile(atPath: file, contents: body)
            args += ["--data-binary", "@" + file]
        }
        let r = try Spawn.run("/usr/bin/curl", args + ["http://127.0.0.1:\(port)\(path)"])
        let parts = r.out.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(parts.last ?? "") ?? -1, parts.dropLast().joined(separator: "\n"))
    }

    private func deliver(_ port: Int, _ payload: [String: Any], secret: String? = nil) throws -> (Int, String) {
        try request(
            port, body: try JSONSerialization.data(withJSONObject: payload, options: [.sortedKeys]),
            headers: ["X-CMO-Hooks-Secret": secret ?? self.secret])
    }

    private func payload(_ type: String, lead: String = "jane@acme.com", at time: String = "2026-12-07T10:00:00.000Z", step: Int = 1)
        -> [String: Any]
    {
        [
            "timestamp": time, "event_type": type, "workspace": "ws-1", "campaign_id": campaign, "campaign_name": "Go devs",
            "lead_email": lead, "email_account": "Sender@Outbound.example", "step": step, "variant": 2, "is_first": true,
            "email_id": "email-\(lead)-\(step)", "unibox_url": "https://app.instantly.ai/unibox?x=1", "firstName": "Jane",
        ]
    }

    private func store() throws -> SQLiteHookEventStore { try SQLiteHookEventStore.open(path: state + "/hooks.sqlite") }

    private var env: [String: String] { ["CMO_STATE_DIR": state, "CMO_HOOKS_SECRET": secret] }

    // MARK: - serve

    func testServeRefusesToStartWithoutTheSecret() throws {
        let r = try Spawn.run("cmo-hooks", ["serve", "--port", "0"], environment: ["CMO_STATE_DIR": state])
        XCTAssertEqual(r.status, 78, r.err)
        XCTAssertTrue(r.err.contains("CMO_HOOKS_SECRET is not set"), r.err)
        let short = try Spawn.run(
            "cmo-hooks", ["serve", "--port", "0"], environment: ["CMO_STATE_DIR": state, "CMO_HOOKS_SECRET": "short"])
        XCTAssertEqual(short.status, 78, short.err)
        XCTAssertFalse(short.err.contains("short"), "the secret is never echoed: \(short.err)")
        XCTAssertEqual(short.out, "")
    }

    func testADeliveryIsStoredAndPrintedOnceAndADuplicateIsAcknowledged() throws {
        let server = try Server(dir: dir, environment: env)
        var reply = payload("reply_received")
        reply["reply_text_snippet"] = "Sounds good\r\nlet's talk\u{7}" + String(repeating: "x", count: 5000)
        reply["reply_subject"] = "Re: hello"
        let first = try deliver(server.port, reply)
        XCTAssertEqual(first.0, 200, first.1)
        XCTAssertTrue(first.1.contains("\"stored\":true"), first.1)
        let again = try deliver(server.port, reply)
        XCTAssertEqual(again.0, 200, "a redelivery is acknowledged")
        XCTAssertTrue(again.1.contains("\"duplicate\":true"), again.1)
        // Printed at once (flushed), before the server stops.
        let deadline = Date().addingTimeInterval(5)
        while server.lines.isEmpty, Date() < deadline { usleep(10_000) }
        XCTAssertEqual(server.stop(), 0, server.err)
        let lines = server.lines
        XCTAssertEqual(lines.count, 1, "the duplicate is not printed: \(server.out)")
        let e = try XCTUnwrap(lines.first)
        XCTAssertEqual(e["kind"] as? String, "event")
        XCTAssertEqual(e["event_type"] as? String, "reply_received")
        XCTAssertEqual(e["outcome"] as? String, "reply")
        XCTAssertEqual(e["lead_email"] as? String, "jane@acme.com")
        XCTAssertEqual(e["email_account"] as? String, "sender@outbound.example")
        XCTAssertEqual(e["campaign_id"] as? String, campaign)
        XCTAssertEqual(e["step"] as? Int, 1)
        XCTAssertEqual(e["variant"] as? Int, 2)
        XCTAssertEqual(e["source"] as? String, "webhook")
        XCTAssertEqual(e["key"] as? String, "reply_received|\(campaign)|jane@acme.com|email-jane@acme.com-1|1|2026-12-07T10:00:00.000Z")
        let snippet = try XCTUnwrap(e["reply_text_snippet"] as? String)
        XCTAssertTrue(snippet.hasPrefix("Sounds good\nlet's talk"), snippet)
        XCTAssertFalse(snippet.contains("\r") || snippet.contains("\u{7}"), "controls removed")
        XCTAssertLessThanOrEqual(snippet.count, 1000, "capped")
        XCTAssertTrue(server.err.contains("received=2; new=1; duplicate=1"), server.err)
        XCTAssertFalse(server.err.contains(secret) || server.out.contains(secret), "the secret is never printed")

        let s = try store()
        XCTAssertEqual(try s.count(), 1)
        let raw = try XCTUnwrap(try s.payload(key: e["key"] as! String))
        let kept = try JSONSerialization.jsonObject(with: Data(raw)) as? [String: Any]
        XCTAssertEqual(kept?["firstName"] as? String, "Jane", "the raw payload is kept, lead fields included")
        XCTAssertEqual(try s.counts(campaign: campaign), [HookEventCount(campaignID: campaign, variant: 2, outcome: "reply", count: 1)])
    }

    func testWrongOrMissingSecretIs401AndStoresNothing() throws {
        let server = try Server(dir: dir, environment: env)
        XCTAssertEqual(try deliver(server.port, payload("email_sent"), secret: "s3cret-0123456789abcdeX").0, 401)
        XCTAssertEqual(try deliver(server.port, payload("email_sent"), secret: "s3cret").0, 401)
        XCTAssertEqual(try request(server.port, body: Data("{}".utf8)).0, 401, "no header")
        XCTAssertEqual(server.stop(), 0)
        XCTAssertEqual(server.out, "")
        XCTAssertEqual(try store().count(), 0)
        XCTAssertTrue(server.err.contains("unauthorized=3"), server.err)
        XCTAssertFalse(server.err.contains("s3cret"), "neither the secret nor what was sent is logged")
    }

    func testBadBodiesAreRefusedAndUnknownTypesAreKept() throws {
        let server = try Server(dir: dir, environment: env, arguments: ["--max-body", "4096"])
        let h = ["X-CMO-Hooks-Secret": secret]
        XCTAssertEqual(try request(server.port, body: Data("not json".utf8), headers: h).0, 400)
        XCTAssertEqual(try request(server.port, body: Data("[1,2]".utf8), headers: h).0, 400, "not an object")
        XCTAssertEqual(
            try request(server.port, body: Data(#"{"timestamp":"2026-12-07T10:00:00Z"}"#.utf8), headers: h).0, 400, "no event_type")
        XCTAssertEqual(try request(server.port, body: Data(#"{"event_type":"email_sent"}"#.utf8), headers: h).0, 400, "no timestamp")
        var big = payload("email_sent")
        big["email_html"] = String(repeating: "<p>long</p>", count: 1000)
        XCTAssertEqual(try deliver(server.port, big).0, 413)
        let unknown = try deliver(server.port, payload("lead_pondering_life", at: "2026-12-07T11:00:00Z"))
        XCTAssertEqual(unknown.0, 200, unknown.1)
        XCTAssertEqual(try deliver(server.port, payload("link_clicked", at: "2026-12-07T11:00:01Z")).0, 200)
        XCTAssertEqual(try request(server.port, "/health", method: "GET").0, 200)
        XCTAssertEqual(try request(server.port, "/elsewhere", body: Data("{}".utf8), headers: h).0, 404)
        XCTAssertEqual(try request(server.port, "/", method: "GET").0, 405)
        XCTAssertEqual(server.stop(SIGINT), 0)
        let lines = server.lines
        XCTAssertEqual(lines.map { $0["event_type"] as? String }, ["lead_pondering_life", "email_link_clicked"])
        XCTAssertNil(lines[0]["outcome"], "an unknown type has no outcome, and is kept")
        XCTAssertEqual(try store().count(), 2)
        XCTAssertTrue(server.err.contains("rejected=4"), server.err)
    }

    func testKillNineAfterA200LosesNothing() throws {
        let server = try Server(dir: dir, environment: env)
        for i in 0..<20 {
            XCTAssertEqual(try deliver(server.port, payload("email_sent", lead: "p\(i)@acme.com")).0, 200)
        }
        XCTAssertEqual(server.stop(SIGKILL), SIGKILL)
        XCTAssertEqual(try store().count(), 20, "every event answered 200 was committed")
        // A restarted receiver knows them all: redeliveries are duplicates.
        let again = try Server(dir: dir, environment: env)
        XCTAssertTrue(try deliver(again.port, payload("email_sent", lead: "p7@acme.com")).1.contains("\"duplicate\":true"))
        XCTAssertEqual(again.stop(), 0)
        XCTAssertEqual(again.out, "")
    }

    /// stdout on a full disk is 74 (as for every tool), not "the reader went away" (0); the event was stored first.
    func testAFullDiskOnStdoutIs74AndTheEventStaysStored() throws {
        let server = try Server(dir: dir, environment: env, stdout: "/dev/full")
        XCTAssertEqual(try deliver(server.port, payload("email_sent")).0, 200)
        let deadline = Date().addingTimeInterval(20)
        while server.process.isRunning, Date() < deadline { usleep(20_000) }
        XCTAssertEqual(server.stop(), 74, server.err)
        XCTAssertTrue(server.err.contains("cannot write"), server.err)
        XCTAssertEqual(try store().count(), 1)
    }

    func testConcurrentDeliveriesOfTheSameEventStoreOne() throws {
        try StorageBackends.each { backend, environment in
            try concurrentDeliveriesStoreOne(backend, environment.merging(env.filter { $0.key != "CMO_STATE_DIR" }) { a, _ in a })
        }
    }

    private func concurrentDeliveriesStoreOne(_ backend: String, _ env: [String: String]) throws {
        let server = try Server(dir: dir, environment: env)
        let body = try JSONSerialization.data(withJSONObject: payload("email_bounced"), options: [.sortedKeys])
        let file = dir + "/bounce.json"
        FileManager.default.createFile(atPath: file, contents: body)
        // 16 curls at once, each with the same delivery.
        let script =
            (0..<16).map { _ in
                "curl -s -o /dev/null -w '%{http_code}\\n' -H 'X-CMO-Hooks-Secret: \(secret)' --data-binary @\(file) http://127.0.0.1:\(server.port)/ &"
            }.joined(separator: "\n") + "\nwait"
        let r = try Spawn.run("/bin/bash", ["-c", script])
        XCTAssertEqual(r.lines.filter { $0 == "200" }.count, 16, r.out)
        XCTAssertEqual(server.stop(), 0)
        XCTAssertEqual(server.lines.count, 1, backend)
        XCTAssertEqual(try HookEventStores.open(environment: env).count(), 1, backend)
    }

    /// The store's contract on both backends: the storing order and cursors, the orders and counts, and
    /// writers on several connections at once each storing an event once with numbers a reader never
    /// sees out of order.
    func testTheStoreKeepsEachEventOnceInStoringOrderOnBothBackends() throws {
        try StorageBackends.each { backend, environment in
            let s = try HookEventStores.open(environment: environment)
            func event(_ type: String, _ lead: String, at: String, variant: Int?) throws -> HookEvent {
                var p = payload(type, lead: lead, at: at)
                p["variant"] = variant
                return try InstantlyWebhookPayload.event(
                    try JSONScanner.parse(String(decoding: try JSONSerialization.data(withJSONObject: p), as: UTF8.self)),
                    source: "webhook", receivedAt: at)
            }
            let late = try event("reply_received", "b@x.com", at: "2026-12-07T09:00:00.000Z", variant: 1)
            let early = try event("email_bounced", "a@x.com", at: "2026-12-07T08:00:00.000Z", variant: 1)
            XCTAssertTrue(try s.insertIfNew(late, payload: Array("{}".utf8)), backend)
            XCTAssertTrue(try s.insertIfNew(early, payload: Array("{\"a\":1}".utf8)), backend)
            XCTAssertFalse(try s.insertIfNew(early, payload: []), backend)
            // By time for `since`; in storing order for the sequence (the late-stored older event last).
            XCTAssertEqual(try s.events(since: nil, limit: nil).map(\.key), [early.key, late.key], backend)
            XCTAssertEqual(try s.events(since: nil, limit: 1).map(\.key), [early.key], backend)
            let seq = try s.events(afterSequence: 0, limit: 10)
            XCTAssertEqual(seq.map(\.event.key), [late.key, early.key], backend)
            XCTAssertEqual(try s.events(afterSequence: seq[0].sequence, limit: 10).map(\.event.key), [early.key], backend)
            XCTAssertEqual(try s.events(campaigns: [campaign], since: "2026-12-07T08:30:00Z").map(\.key), [late.key], backend)
            XCTAssertEqual(try s.events(campaigns: ["other", "x\"y"], since: nil).count, 0, backend)
            XCTAssertEqual(try s.payload(key: early.key), Array("{\"a\":1}".utf8), backend)
            XCTAssertNil(try s.payload(key: "nope"), backend)
            XCTAssertEqual(
                try s.counts(campaign: nil),
                [HookEventCount(campaignID: campaign, variant: 1, outcome: "bounced", count: 1),
                 HookEventCount(campaignID: campaign, variant: 1, outcome: "reply", count: 1)], backend)
            XCTAssertEqual(try s.counts(campaign: "other"), [], backend)
            XCTAssertEqual(try s.newestTimestamp(), "2026-12-07T09:00:00.000Z", backend)
            XCTAssertThrowsError(try s.events(since: "yesterday", limit: nil), backend)

            // 4 writers, each its own store (its own connection or file handle), the same 40 events at once.
            let events = try (0..<40).map { try event("email_opened", "w\($0)@x.com", at: "2026-12-07T10:00:\(String(format: "%02d", $0)).000Z", variant: nil) }
            let stores = try (0..<4).map { _ in try HookEventStores.open(environment: environment) }
            let newOnes = NSLock()
            nonisolated(unsafe) var stored = 0
            nonisolated(unsafe) var failures: [String] = []
            DispatchQueue.concurrentPerform(iterations: 4) { w in
                for e in events.shuffled() {
                    do {
                        if try stores[w].insertIfNew(e, payload: []) { newOnes.withLock { stored += 1 } }
                    } catch {
                        newOnes.withLock { failures.append("\(error)") }
                    }
                }
            }
            XCTAssertEqual(failures, [], backend)
            XCTAssertEqual(stored, 40, "each event stored by exactly one writer (\(backend))")
            XCTAssertEqual(try s.count(), 42, backend)
            let all = try s.events(afterSequence: 0, limit: 100).map(\.sequence)
            XCTAssertEqual(all, all.sorted(), backend)
            XCTAssertEqual(Set(all).count, 42, backend)
        }
    }

    func testSIGTERMLetsARequestInFlightFinish() throws {
        let server = try Server(dir: dir, environment: env)
        let body = Array(try JSONSerialization.data(withJSONObject: payload("lead_interested"), options: [.sortedKeys]))
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(server.port).bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        XCTAssertEqual(connected, 0)
        func sendAll(_ bytes: [UInt8]) { _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } }
        let head =
            "POST / HTTP/1.1\r\nHost: x\r\nX-CMO-Hooks-Secret: \(secret)\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\n\r\n"
        sendAll(Array(head.utf8) + body.prefix(10))
        usleep(300_000)
        kill(server.process.processIdentifier, SIGTERM)
        usleep(300_000)
        XCTAssertTrue(server.process.isRunning, "a request in flight holds the stop")
        sendAll(Array(body.dropFirst(10)))
        var answer = [UInt8](repeating: 0, count: 4096)
        let n = answer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        let text = String(decoding: answer.prefix(max(0, n)), as: UTF8.self)
        XCTAssertTrue(text.hasPrefix("HTTP/1.1 200"), text)
        XCTAssertTrue(text.contains("connection: close"), "no keep-alive while stopping: \(text)")
        server.process.waitUntilExit()
        XCTAssertEqual(server.process.terminationStatus, 0, server.err)
        XCTAssertEqual(server.lines.count, 1)
        XCTAssertEqual(try store().count(), 1)
    }

    // MARK: - The payload and the store, as units

    func testPayloadReadingNormalisesAndReadsBouncesAndReturnDays() throws {
        func event(_ json: String) throws -> HookEventFields {
            let e = try InstantlyWebhookPayload.event(
                try JSONScanner.parse(json), source: "webhook", receivedAt: "2026-12-07T00:00:00.000Z")
            return HookEventFields(
                type: e.eventType, outcome: e.outcome?.rawValue, hard: e.hardBounce, returns: e.returnsOn, lead: e.leadEmail)
        }
        let t = #""timestamp":"2026-12-07T10:00:00Z""#
        XCTAssertEqual(try event("{\(t),\"event_type\":\"email_bounced\",\"reply_text\":\"550 5.1.1 user unknown\"}").hard, true)
        XCTAssertEqual(try event("{\(t),\"event_type\":\"email_bounced\",\"reply_text\":\"421 4.7.0 try later\"}").hard, false)
        XCTAssertEqual(try event("{\(t),\"event_type\":\"email_bounced\",\"bounce_type\":\"soft\",\"bounce_code\":\"5.1.1\"}").hard, false)
        XCTAssertNil(try event("{\(t),\"event_type\":\"email_bounced\"}").hard, "nothing says: unknown")
        XCTAssertNil(try event("{\(t),\"event_type\":\"email_bounced\",\"reply_text\":\"version 15.1.1 of the server\"}").hard)
        let ooo = try event(
            "{\(t),\"event_type\":\"lead_out_of_office\",\"returns_on\":\"2026-12-20\",\"lead_email\":\" Jane@X.example \"}")
        XCTAssertEqual(ooo.outcome, "out_of_office")
        XCTAssertEqual(ooo.returns, "2026-12-20")
        XCTAssertEqual(ooo.lead, "jane@x.example")
        XCTAssertEqual(try event("{\(t),\"event_type\":\"email_unsubscribed\"}").outcome, "unsubscribed")
        XCTAssertEqual(try event("{\(t),\"event_type\":null,\"custom_interest_value\":7}").type, "custom_label")
        XCTAssertThrowsError(try event("{\(t),\"event_type\":null}"))
        XCTAssertThrowsError(
            try event("{\"event_type\":\"email_sent\",\"timestamp\":\"\(String(repeating: "9", count: 100))\"}"), "absurd timestamp")
    }

    struct HookEventFields {
        var type: String
        var outcome: String?
        var hard: Bool?
        var returns: String?
        var lead: String?
    }

    func testAnOversizedPayloadIsStoredCutButStillJSON() throws {
        try StorageBackends.each { _, environment in
            let s = try HookEventStores.open(environment: environment)
            var p = payload("reply_received")
            p["reply_html"] = String(repeating: "<p>\u{2028}a</p>", count: 20_000)
            let bytes = Array(try JSONSerialization.data(withJSONObject: p))
            XCTAssertGreaterThan(bytes.count, SQLiteHookEventStore.maxPayloadBytes)
            let e = try InstantlyWebhookPayload.event(
                try JSONScanner.parse(String(decoding: bytes, as: UTF8.self)), source: "webhook", receivedAt: "2026-12-07T00:00:00.000Z")
            XCTAssertTrue(try s.insertIfNew(e, payload: bytes))
            XCTAssertFalse(try s.insertIfNew(e, payload: bytes), "the same key again")
            let kept = try XCTUnwrap(try s.payload(key: e.key))
            XCTAssertLessThanOrEqual(kept.count, SQLiteHookEventStore.maxPayloadBytes)
            let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(kept)) as? [String: Any])
            XCTAssertEqual(json["lead_email"] as? String, "jane@acme.com")
            XCTAssertTrue((json["reply_html"] as? String)?.hasSuffix("…") == true)
            XCTAssertEqual(try s.newestTimestamp(), "2026-12-07T10:00:00.000Z")
            XCTAssertEqual(try s.events(since: "2026-12-07T10:00:00Z", limit: nil).map(\.key), [e.key])
            XCTAssertEqual(try s.events(since: "2026-12-07T10:00:01Z", limit: nil).count, 0)
            XCTAssertNil(try s.cursor("x"))
            try s.setCursor("x", to: "a")
            try s.setCursor("x", to: "b")
            XCTAssertEqual(try s.cursor("x"), "b")
        }
    }

    // MARK: - A fake Instantly (the spec's shapes)

    /// Webhooks and stored webhook events as Instantly's API v2 serves them.
    final class FakeInstantly: @unchecked Sendable {
        let lock = NSLock()
        var webhooks: [[String: Any]] = []
        var events: [[String: Any]] = []
        var requests: [String] = []
        var eventQueries: [String] = []
        let key = "instantly-test-key"

        func reply(_ r: RecordedRequest) -> ScriptedReply {
            lock.lock()
            defer { lock.unlock() }
            let path = String(r.target.split(separator: "?").first ?? "")
            let query = Dictionary(
                (r.target.split(separator: "?").dropFirst().first ?? "").split(separator: "&").map { pair -> (String, String) in
                    let kv = pair.split(separator: "=", maxSplits: 1).map(String.init)
                    return (kv[0], (kv.count > 1 ? kv[1] : "").removingPercentEncoding ?? "")
                }, uniquingKeysWith: { _, b in b })
            requests.append("\(r.method) \(path)")
            guard r.header("authorization") == "Bearer \(key)" else {
                return json(401, ["statusCode": 401, "error": "Unauthorized", "message": "Invalid API key"])
            }
            let body = (try? JSONSerialization.jsonObject(with: Data(r.body))) as? [String: Any]
            switch (r.method, path) {
            case ("GET", "/api/v2/webhooks"):
                var items = webhooks
                if let c = query["campaign"] { items = items.filter { $0["campaign"] as? String == c } }
                return json(200, ["items": items])
            case ("POST", "/api/v2/webhooks"):
                guard let body, let url = body["target_hook_url"] as? String, url.hasPrefix("http") else {
                    return json(400, ["statusCode": 400, "error": "Bad Request", "message": "body/target_hook_url must match pattern"])
                }
                let allowed: Set<String> = ["campaign", "name", "target_hook_url", "event_type", "custom_interest_value", "headers"]
                if let extra = body.keys.first(where: { !allowed.contains($0) }) {
                    return json(
                        400, ["statusCode": 400, "error": "Bad Request", "message": "body must NOT have additional property \(extra)"])
                }
                var hook = body
                hook["id"] = UUID().uuidString.lowercased()
                hook["organization"] = "org-1"
                hook["status"] = 1
                hook["timestamp_created"] = "2026-12-07T09:00:00.000Z"
                webhooks.append(hook)
                return json(200, hook)
            default:
                break
            }
            let parts = path.split(separator: "/").map(String.init)  // api v2 webhooks {id} [resume]
            if parts.count >= 4, parts[2] == "webhooks", let i = webhooks.firstIndex(where: { $0["id"] as? String == parts[3] }) {
                if r.method == "PATCH", parts.count == 4, let body {
                    for (k, v) in body { webhooks[i][k] = v }
                    return json(200, webhooks[i])
                }
                if r.method == "POST", parts.count == 5, parts[4] == "resume" {
                    webhooks[i]["status"] = 1
                    webhooks[i]["timestamp_error"] = NSNull()
                    return json(200, webhooks[i])
                }
            }
            if r.method == "GET", path == "/api/v2/webhook-events" {
                eventQueries.append(String(r.target.split(separator: "?").dropFirst().first ?? ""))
                let limit = Int(query["limit"] ?? "10") ?? 10
                var items = events
                if let from = query["from"] {
                    items = items.filter { ($0["timestamp_created"] as! String).prefix(10) >= from.prefix(10) }
                }
                if let after = query["starting_after"], let i = items.firstIndex(where: { $0["id"] as? String == after }) {
                    items = Array(items[(i + 1)...])
                }
                let page = Array(items.prefix(limit))
                var answer: [String: Any] = ["items": page]
                if page.count == limit, let last = page.last?["id"] { answer["next_starting_after"] = last }
                return json(200, answer)
            }
            return json(404, ["statusCode": 404, "error": "Not Found", "message": "Route \(r.method):\(path) not found"])
        }

        private func json(_ status: Int, _ object: Any) -> ScriptedReply {
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
            return .status(status, [("Content-Type", "application/json")], body: String(decoding: data, as: UTF8.self))
        }

        /// A stored delivery attempt of `payload`, as `GET /api/v2/webhook-events` lists it.
        func addEvent(_ payload: [String: Any], success: Bool) {
            lock.lock()
            defer { lock.unlock() }
            let n = events.count
            events.append([
                "id": String(format: "00000000-0000-4000-8000-%012d", n), "timestamp_created": payload["timestamp"]!,
                "timestamp_created_date": String((payload["timestamp"] as! String).prefix(10)), "organization_id": "org-1",
                "payload": payload, "success": success, "retry_count": 0, "will_retry": !success,
                "webhook_url": "https://hooks.example.com/", "status_code": success ? 200 : 502,
                "lead_email": payload["lead_email"] ?? NSNull(),
            ])
        }
    }

    private func fakeInstantly() throws -> (FakeInstantly, ScriptedHTTPServer) {
        let fake = FakeInstantly()
        let server = try ScriptedHTTPServer(handler: { fake.reply($0) })
        return (fake, server)
    }

    private func instantlyEnv(_ server: ScriptedHTTPServer, _ fake: FakeInstantly) -> [String: String] {
        env.merging(["INSTANTLY_API_URL": server.url, "INSTANTLY_API_KEY": fake.key, "CMO_HTTP_CACHE": "0"]) { _, n in n }
    }

    // MARK: - catch-up

    func testCatchUpMergesWhatServeMissedWithoutDuplicates() throws {
        let (fake, http) = try fakeInstantly()
        defer { http.stop() }
        // serve got two events; Instantly kept those two, plus three the receiver missed (one failed
        // twice: the same payload in two delivery attempts), over three pages.
        let served = [
            payload("email_sent", lead: "a@acme.com", at: "2026-12-07T10:00:00.000Z"),
            payload("reply_received", lead: "a@acme.com", at: "2026-12-07T11:00:00.000Z"),
        ]
        let server = try Server(dir: dir, environment: env)
        for p in served { XCTAssertEqual(try deliver(server.port, p).0, 200) }
        XCTAssertEqual(server.stop(), 0)
        let missed = [
            payload("email_bounced", lead: "b@acme.com", at: "2026-12-07T12:00:00.000Z"),
            payload("lead_unsubscribed", lead: "c@acme.com", at: "2026-12-07T12:30:00.000Z"),
            payload("lead_interested", lead: "d@acme.com", at: "2026-12-07T13:00:00.000Z"),
        ]
        for p in served { fake.addEvent(p, success: true) }
        fake.addEvent(missed[0], success: false)
        fake.addEvent(missed[0], success: false)
        fake.addEvent(missed[1], success: false)
        fake.addEvent(missed[2], success: false)
        var junk = payload("email_sent", at: "2026-12-07T12:45:00.000Z")
        junk.removeValue(forKey: "event_type")
        fake.addEvent(junk, success: false)

        let r = try Spawn.run("cmo-hooks", ["catch-up", "--since", "2026-12-07T00:00:00Z"], environment: instantlyEnv(http, fake))
        XCTAssertEqual(r.status, 0, r.err)
        let printed = try NDJSON.objects(r)
        XCTAssertEqual(printed.map { $0["event_type"] as? String }, ["email_bounced", "lead_unsubscribed", "lead_interested"])
        XCTAssertTrue(printed.allSatisfy { $0["source"] as? String == "catch-up" })
        XCTAssertEqual(printed[0]["outcome"] as? String, "bounced")
        XCTAssertTrue(r.err.contains("fetched 7, new 3, duplicates 3, older 0, unreadable 1"), r.err)
        XCTAssertEqual(try store().count(), 5)
        XCTAssertTrue(fake.eventQueries.allSatisfy { $0.contains("from=2026-12-07") }, "\(fake.eventQueries)")

        // Again, without --since: from the newest stored minus the overlap; nothing new, nothing printed.
        let again = try Spawn.run("cmo-hooks", ["catch-up"], environment: instantlyEnv(http, fake))
        XCTAssertEqual(again.status, 0, again.err)
        XCTAssertEqual(again.out, "")
        XCTAssertTrue(again.err.contains("new 0"), again.err)
        XCTAssertTrue(again.err.contains("since 2026-12-07T12:00:00.000Z"), "newest (13:00) minus an hour: \(again.err)")
    }

    func testCatchUpPagesThroughEveryEvent() throws {
        let (fake, http) = try fakeInstantly()
        defer { http.stop() }
        for i in 0..<250 {
            fake.addEvent(
                payload("email_opened", lead: "p\(i)@acme.com", at: String(format: "2026-12-06T10:%02d:%02d.000Z", i / 60, i % 60)),
                success: true)
        }
        let r = try Spawn.run("cmo-hooks", ["catch-up"], environment: instantlyEnv(http, fake))
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.lines.count, 250)
        XCTAssertEqual(fake.eventQueries.count, 3, "100 a page: \(fake.eventQueries)")
        XCTAssertFalse(fake.eventQueries[0].contains("from="), "a first run takes everything")
        XCTAssertTrue(fake.eventQueries[1].contains("starting_after=00000000-0000-4000-8000-000000000099"), fake.eventQueries[1])
    }

    func testCatchUpExitStatuses() throws {
        let (fake, http) = try fakeInstantly()
        defer { http.stop() }
        var e = instantlyEnv(http, fake)
        e["INSTANTLY_API_KEY"] = "wrong"
        XCTAssertEqual(try Spawn.run("cmo-hooks", ["catch-up"], environment: e).status, 77)
        e.removeValue(forKey: "INSTANTLY_API_KEY")
        XCTAssertEqual(try Spawn.run("cmo-hooks", ["catch-up"], environment: e).status, 78)
        let down = try Spawn.run(
            "cmo-hooks", ["catch-up", "--retries", "0"],
            environment: instantlyEnv(http, fake).merging(["INSTANTLY_API_URL": "http://127.0.0.1:\(try ScriptedHTTPServer.unusedPort())"])
            { _, n in n })
        XCTAssertEqual(down.status, 69, down.err)
        XCTAssertEqual(try Spawn.run("cmo-hooks", ["catch-up", "--since", "yesterday"], environment: instantlyEnv(http, fake)).status, 64)
    }

    // MARK: - Against the sandbox's Instantly (webhooks, deliveries, webhook-events)

    /// A sandbox curl: status and parsed JSON.
    private func sandboxCall(_ sandbox: SandboxLauncher, _ method: String, _ url: String, _ body: Any? = nil, auth: Bool = true) throws -> (
        Int, Any?
    ) {
        var args = ["-s", "-o", "-", "-w", "\n%{http_code}", "-X", method]
        if auth { args += ["-H", "Authorization: Bearer \(sandbox.environment["INSTANTLY_API_KEY"]!)"] }
        if let body {
            args += [
                "-H", "Content-Type: application/json", "--data-binary",
                String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self),
            ]
        }
        let r = try Spawn.run("/usr/bin/curl", args + [url])
        let parts = r.out.split(separator: "\n", omittingEmptySubsequences: false)
        let text = parts.dropLast().joined(separator: "\n")
        return (Int(parts.last ?? "") ?? -1, try? JSONSerialization.jsonObject(with: Data(text.utf8)))
    }

    private func settle(_ sandbox: SandboxLauncher) throws {
        let end = Date().addingTimeInterval(60)
        while Date() < end {
            let (_, json) = try sandboxCall(sandbox, "GET", sandbox.baseURL + "/_sandbox/instantly/deliveries", auth: false)
            if (json as? [String: Any])?["pending"] as? Int == 0 { return }
            usleep(50_000)
        }
        XCTFail("sandbox deliveries still pending")
    }

    private func advance(_ sandbox: SandboxLauncher, days: Int) throws {
        let (status, json) = try sandboxCall(sandbox, "POST", sandbox.baseURL + "/_sandbox/instantly/advance", ["days": days], auth: false)
        XCTAssertEqual(status, 200, "\(String(describing: json))")
        try settle(sandbox)
    }

    func testAgainstTheSandboxServeThenDowntimeThenResumeAndCatchUpStoreEveryEventOnce() throws {
        let sandbox = try SandboxLauncher([
            "--repos", "10", "--users", "20", "--seed", "11", "--instantly-sequence-steps", "2", "--instantly-bounce-rate", "0.15",
            "--instantly-reply-rate", "0.3", "--instantly-unsubscribe-rate", "0.1", "--instantly-ooo-rate", "0.1",
            "--instantly-webhook-backoff", "0.01", "--instantly-webhook-disable-after", "2",
        ])
        defer { sandbox.stop() }
        let api = try XCTUnwrap(sandbox.environment["INSTANTLY_API_URL"])
        let campaign = try XCTUnwrap(sandbox.environment["CMO_SANDBOX_INSTANTLY_CAMPAIGN"])
        let e = env.merging(sandbox.environment) { _, n in n }.merging(["CMO_HTTP_CACHE": "0"]) { _, n in n }

        let first = try Server(dir: dir, environment: e)
        let url = "http://127.0.0.1:\(first.port)/"
        let created = try Spawn.run("cmo-hooks", ["register", "--campaign", campaign, "--url", url], environment: e)
        XCTAssertEqual(created.status, 0, created.err)
        XCTAssertEqual(try NDJSON.objects(created).first?["action"] as? String, "created")

        let leads = (0..<30).map { i -> [String: Any] in
            ["email": "dev\(i)@acme\(i % 4).example", "first_name": "F", "custom_variables": ["cmo_subject": "S", "cmo_body": "B"]]
        }
        let (added, body) = try sandboxCall(sandbox, "POST", api + "/api/v2/leads/add", ["campaign_id": campaign, "leads": leads])
        XCTAssertEqual(added, 200, "\(String(describing: body))")
        try advance(sandbox, days: 2)
        let live = first.lines.count
        XCTAssertGreaterThan(live, 0, "deliveries reached serve: \(first.err)")

        // The receiver is down for a while: deliveries fail, Instantly disables the webhook.
        XCTAssertEqual(first.stop(), 0)
        try advance(sandbox, days: 4)
        let (_, hooks) = try sandboxCall(sandbox, "GET", api + "/api/v2/webhooks?campaign=\(campaign)")
        let hook = try XCTUnwrap(((hooks as? [String: Any])?["items"] as? [[String: Any]])?.first)
        XCTAssertEqual(hook["status"] as? Int, -1, "disabled after failed deliveries: \(hook)")

        // Back up on the same port: register resumes the webhook, catch-up fetches what was missed.
        let second = try Server(dir: dir, environment: e, port: first.port)
        let again = try Spawn.run("cmo-hooks", ["register", "--campaign", campaign, "--url", url], environment: e)
        XCTAssertEqual(again.status, 0, again.err)
        XCTAssertEqual(try NDJSON.objects(again).first?["action"] as? String, "resumed")
        let caught = try Spawn.run("cmo-hooks", ["catch-up"], environment: e)
        XCTAssertEqual(caught.status, 0, caught.err)
        XCTAssertGreaterThan(caught.lines.count, 0, caught.err)
        XCTAssertTrue(caught.err.contains("duplicates"), caught.err)
        // Delivered live again once resumed: new leads, new events.
        let more = (30..<40).map { i -> [String: Any] in
            ["email": "dev\(i)@acme\(i % 4).example", "first_name": "F", "custom_variables": ["cmo_subject": "S", "cmo_body": "B"]]
        }
        XCTAssertEqual(try sandboxCall(sandbox, "POST", api + "/api/v2/leads/add", ["campaign_id": campaign, "leads": more]).0, 200)
        try advance(sandbox, days: 2)
        XCTAssertEqual(second.stop(), 0)
        XCTAssertGreaterThan(second.lines.count, 0, "deliveries resumed: \(second.err)")

        // Every event of the campaign once: the store holds what the sandbox says happened.
        let truth =
            (try sandboxCall(sandbox, "GET", sandbox.baseURL + "/_sandbox/instantly/truth", auth: false).1 as? [String: Any])?["events"]
            as? [[String: Any]] ?? []
        let ofCampaign = truth.filter { $0["campaign_id"] as? String == campaign }
        XCTAssertGreaterThan(ofCampaign.count, live)
        XCTAssertEqual(try store().count(), ofCampaign.count)
        let printed = (first.lines + (try NDJSON.objects(caught)) + second.lines).compactMap { $0["key"] as? String }
        XCTAssertEqual(printed.count, Set(printed).count, "nothing printed twice")
        XCTAssertEqual(printed.count, ofCampaign.count, "every event printed once, by serve or by catch-up")

        // A second catch-up finds nothing new.
        let idle = try Spawn.run("cmo-hooks", ["catch-up", "--since", "2000-01-01T00:00:00Z"], environment: e)
        XCTAssertEqual(idle.status, 0, idle.err)
        XCTAssertEqual(idle.out, "")
        XCTAssertTrue(idle.err.contains("new 0"), idle.err)
    }

    // MARK: - register

    func testRegisterCreatesOnceFindsThenResumesAndResetsTheSecret() throws {
        let (fake, http) = try fakeInstantly()
        defer { http.stop() }
        let args = ["register", "--campaign", campaign, "--url", "https://hooks.example.com/"]

        let dry = try Spawn.run("cmo-hooks", args + ["--dry-run"], environment: instantlyEnv(http, fake))
        XCTAssertEqual(dry.status, 0, dry.err)
        XCTAssertEqual(try NDJSON.objects(dry).first?["would"] as? String, "created")
        XCTAssertTrue(fake.webhooks.isEmpty, "--dry-run writes nothing")
        XCTAssertFalse(fake.requests.contains { !$0.hasPrefix("GET") }, "\(fake.requests)")

        let first = try Spawn.run("cmo-hooks", args, environment: instantlyEnv(http, fake))
        XCTAssertEqual(first.status, 0, first.err)
        let created = try XCTUnwrap(try NDJSON.objects(first).first)
        XCTAssertEqual(created["action"] as? String, "created")
        XCTAssertEqual(fake.webhooks.count, 1)
        let hook = fake.webhooks[0]
        XCTAssertEqual(hook["campaign"] as? String, campaign)
        XCTAssertEqual(hook["target_hook_url"] as? String, "https://hooks.example.com/")
        XCTAssertEqual(hook["event_type"] as? String, "all_events")
        XCTAssertEqual(hook["name"] as? String, "cmo-hooks")
        XCTAssertEqual(hook["headers"] as? [String: String], ["X-CMO-Hooks-Secret": secret])
        XCTAssertEqual(created["id"] as? String, hook["id"] as? String)
        XCTAssertFalse(first.out.contains(secret) || first.err.contains(secret), "the secret is never printed")

        let second = try Spawn.run("cmo-hooks", args, environment: instantlyEnv(http, fake))
        XCTAssertEqual(second.status, 0, second.err)
        XCTAssertEqual(try NDJSON.objects(second).first?["action"] as? String, "found")
        XCTAssertEqual(try NDJSON.objects(second).first?["headers_updated"] as? Bool, false)
        XCTAssertEqual(fake.webhooks.count, 1, "nothing created twice")

        // Instantly disabled it after failures; and the secret was rotated.
        fake.lock.withLock {
            fake.webhooks[0]["status"] = -1
            fake.webhooks[0]["timestamp_error"] = "2026-12-07T12:00:00.000Z"
        }
        let rotated = "rotated-secret-fedcba9876543210"
        let third = try Spawn.run(
            "cmo-hooks", args, environment: instantlyEnv(http, fake).merging(["CMO_HOOKS_SECRET": rotated]) { _, n in n })
        XCTAssertEqual(third.status, 0, third.err)
        let resumed = try XCTUnwrap(try NDJSON.objects(third).first)
        XCTAssertEqual(resumed["action"] as? String, "resumed")
        XCTAssertEqual(resumed["headers_updated"] as? Bool, true)
        XCTAssertEqual(resumed["status"] as? Int, 1)
        XCTAssertEqual(fake.webhooks.count, 1)
        XCTAssertEqual(fake.webhooks[0]["status"] as? Int, 1)
        XCTAssertEqual(fake.webhooks[0]["headers"] as? [String: String], ["X-CMO-Hooks-Secret": rotated])
        XCTAssertFalse(third.out.contains(rotated) || third.err.contains(rotated))
        XCTAssertTrue(fake.requests.contains("POST /api/v2/webhooks/\(hook["id"]!)/resume"), "\(fake.requests)")

        // Another URL is another webhook.
        let other = try Spawn.run(
            "cmo-hooks", ["register", "--campaign", campaign, "--url", "https://other.example.com/"], environment: instantlyEnv(http, fake))
        XCTAssertEqual(try NDJSON.objects(other).first?["action"] as? String, "created")
        XCTAssertEqual(fake.webhooks.count, 2)
    }

    func testRegisterRefusesBadFlags() throws {
        let (fake, http) = try fakeInstantly()
        defer { http.stop() }
        let e = instantlyEnv(http, fake)
        XCTAssertEqual(
            try Spawn.run("cmo-hooks", ["register", "--campaign", "nope", "--url", "https://x.example/"], environment: e).status, 64)
        XCTAssertEqual(
            try Spawn.run("cmo-hooks", ["register", "--campaign", campaign, "--url", "ftp://x.example/"], environment: e).status, 64)
        XCTAssertEqual(try Spawn.run("cmo-hooks", ["register", "--campaign", campaign], environment: e).status, 64)
        XCTAssertEqual(
            try Spawn.run(
                "cmo-hooks", ["register", "--campaign", campaign, "--url", "https://x.example/", "--event-type", "everything"],
                environment: e
            ).status, 64)
        var noSecret = e
        noSecret.removeValue(forKey: "CMO_HOOKS_SECRET")
        XCTAssertEqual(
            try Spawn.run("cmo-hooks", ["register", "--campaign", campaign, "--url", "https://x.example/"], environment: noSecret).status,
            78)
        XCTAssertTrue(fake.webhooks.isEmpty)
    }
}

struct HooksTestFailure: Error, CustomStringConvertible {
    let description: String
}
