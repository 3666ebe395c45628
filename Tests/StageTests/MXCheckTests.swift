import CMOTestSupport
import Foundation
import XCTest

/// mx-check against the sandbox's DNS: every DNS behaviour from `/_sandbox/truth`, flags, best_email,
/// filters, dead letters, one query per domain, a closed stdout.
final class MXCheckTests: XCTestCase {
    nonisolated(unsafe) static var shared: SandboxLauncher?
    nonisolated(unsafe) static var truthCache: [String: Any]?

    static func sandbox() throws -> SandboxLauncher {
        if let s = shared { return s }
        let s = try SandboxLauncher(["--seed", "7", "--users", "400"])
        shared = s
        return s
    }

    override class func tearDown() {
        shared?.stop()
        shared = nil
    }

    func truth() throws -> [String: Any] {
        if let t = Self.truthCache { return t }
        let t = try Self.sandbox().truth()
        Self.truthCache = t
        return t
    }

    func emails() throws -> [String: [String: Any]] { try truth()["emails"] as? [String: [String: Any]] ?? [:] }
    func domains() throws -> [String: String] { try truth()["domains"] as? [String: String] ?? [:] }

    func domain(_ kind: String) throws -> String {
        try XCTUnwrap(try domains().filter { $0.value == kind }.keys.sorted().first, "no \(kind) domain")
    }

    /// An MX domain of the world that is neither free-mail nor disposable.
    func companyDomain() throws -> String {
        let e = try emails().values.filter {
            $0["dns"] as? String == "mx" && $0["free"] as? Bool == false && $0["disposable"] as? Bool == false
                && $0["noreply"] as? Bool == false
        }
        return try XCTUnwrap(e.compactMap { $0["domain"] as? String }.sorted().first, "no company domain")
    }

    private func check(_ args: [String], _ input: String, env: [String: String] = [:]) throws -> SpawnResult {
        let s = try Self.sandbox()
        let base = ["CMO_DNS_SERVER": s.environment["CMO_DNS_SERVER"] ?? ""]
        return try Spawn.run(
            "mx-check", ["--dns-timeout", "0.5", "--dns-attempts", "2", "--log-format", "json"] + args, stdin: Data(input.utf8),
            environment: base.merging(env) { $1 })
    }

    func objects(_ r: SpawnResult) throws -> [[String: Any]] {
        try r.lines.map { try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
    }

    func summary(_ r: SpawnResult) throws -> [String: Any] {
        let line = r.err.split(separator: "\n").last.map(String.init) ?? ""
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], r.err)
    }

    func firstCheck(_ o: [String: Any]) -> [String: Any] { (o["email_checks"] as? [[String: Any]])?.first ?? [:] }

    func testEveryDNSBehaviourGivesTheRightVerdict() throws {
        let expected: [String: String] = [
            "mx": "safe", "a_only": "safe", "null_mx": "invalid", "nxdomain": "invalid", "servfail": "unknown",
            "timeout": "unknown", "truncated": "safe",
        ]
        var input = ""
        for kind in expected.keys.sorted() {
            input += "{\"email\":\"ada@\(kind == "mx" ? try companyDomain() : try domain(kind))\",\"kind\":\"\(kind)\"}\n"
        }
        let r = try check(["--dns-timeout", "1"], input)
        XCTAssertEqual(r.status, 0, r.err)
        for o in try objects(r) {
            let kind = o["kind"] as! String
            let c = firstCheck(o)
            XCTAssertEqual(c["verdict"] as? String, expected[kind], "\(kind): \(c)")
            if kind == "servfail" || kind == "timeout" {
                XCTAssertEqual(c["reasons"] as? [String], ["dns_\(kind)"])
                XCTAssertEqual(o["best_email"] as? String, "ada@\(try domain(kind))", "unknown is still a candidate")
            }
            if kind == "null_mx" || kind == "nxdomain" { XCTAssertTrue(o["best_email"] is NSNull, "\(o)") }
            if kind == "a_only" { XCTAssertEqual(c["reasons"] as? [String], ["implicit_mx"]) }
            if kind == "mx" { XCTAssertFalse((c["mx"] as? [String] ?? []).isEmpty) }
        }
        XCTAssertEqual(try objects(r).count, expected.count)
    }

    func testTruthEmailsAgreeOnFlagsAndDeliverability() throws {
        let truth = try emails()
        XCTAssertFalse(truth.isEmpty)
        let usable = truth.filter { ($0.value["dns"] as? String) != "slow" }.keys.sorted()
        let input = usable.map { "{\"email\":\"\($0)\"}" }.joined(separator: "\n") + "\n"
        let r = try check(["--chunk-size", "100"], input)
        XCTAssertEqual(r.status, 0, r.err)
        let out = try objects(r)
        XCTAssertEqual(out.count, usable.count)
        var seenFlags: Set<String> = []
        for o in out {
            let c = firstCheck(o)
            let address = (o["email"] as! String).lowercased()
            let t = try XCTUnwrap(truth[address])
            let flags = c["flags"] as! [String: Bool]
            for f in ["role", "disposable", "free", "noreply"] {
                XCTAssertEqual(flags[f], t[f] as? Bool, "\(f) of \(address)")
                if flags[f] == true { seenFlags.insert(f) }
            }
            let verdict = c["verdict"] as! String
            let dns = t["dns"] as? String ?? ""
            if t["deliverable"] as? Bool == true {
                XCTAssertTrue(verdict == "safe" || verdict == "risky", "\(address) \(dns): \(c)")
                if t["role"] as? Bool == true || t["disposable"] as? Bool == true { XCTAssertEqual(verdict, "risky", address) }
            } else if dns == "servfail" || dns == "timeout" {
                XCTAssertEqual(verdict, "unknown", "\(address): never invalid on a DNS failure")
            } else {
                XCTAssertEqual(verdict, "invalid", "\(address) \(dns): \(c)")
            }
        }
        XCTAssertTrue(seenFlags.isSuperset(of: ["free", "noreply"]), "\(seenFlags)")
        // One MX query per distinct domain.
        let domainCount = Set(usable.map { $0.split(separator: "@").last! }).count
        let s = try summary(r)
        XCTAssertEqual(s["domains_looked_up"] as? Int, domainCount)
        XCTAssertEqual((s["dns_queries_by_type"] as? [String: Int])?["MX"], domainCount)
    }

    func testOneQueryPerDomainCountedByTheSandbox() throws {
        let s = try Self.sandbox()
        let d = try companyDomain()
        let before = try s.requests("dns MX")
        let input = (0..<50).map { "{\"email\":\"p\($0)@\(d)\"}" }.joined(separator: "\n") + "\n"
        let r = try check(["--chunk-size", "7"], input)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(try s.requests("dns MX") - before, 1)
        XCTAssertEqual(try summary(r)["domains_looked_up"] as? Int, 1)
    }

    func testRoleDisposableFreeNoreplyAndSyntax() throws {
        let d = try companyDomain()
        let input = """
            {"emails":["info@\(d)","x@mailinator.com","1+ada@users.noreply.github.com","bad..dot@\(d)","a@[1.2.3.4]"]}

            """
        let r = try check([], input)
        XCTAssertEqual(r.status, 0, r.err)
        let checks = try XCTUnwrap(try objects(r).first?["email_checks"] as? [[String: Any]])
        XCTAssertEqual(checks.count, 5)
        XCTAssertEqual(checks[0]["verdict"] as? String, "risky")
        XCTAssertEqual((checks[0]["flags"] as? [String: Bool])?["role"], true)
        XCTAssertEqual((checks[1]["flags"] as? [String: Bool])?["disposable"], true)
        XCTAssertEqual(checks[2]["verdict"] as? String, "invalid")
        XCTAssertEqual((checks[2]["flags"] as? [String: Bool])?["noreply"], true)
        XCTAssertEqual(checks[3]["reasons"] as? [String], ["syntax_bad_local_part"])
        XCTAssertEqual(checks[4]["reasons"] as? [String], ["syntax_ip_literal"])
    }

    func testBestEmailPreferenceAndPassThrough() throws {
        let d = try companyDomain()
        let dead = try domain("nxdomain")
        let input = """
            {"login":"ada","crm":{"x":[1,"y"]},"emails":[\
            {"address":"gone@\(dead)","source":"profile","evidence":"profile","last_seen":"2026-10-01T00:00:00Z"},\
            {"address":"old@\(d)","source":"commit","evidence":"a/b@1","last_seen":"2025-01-01T00:00:00Z"},\
            {"address":"new@\(d)","source":"commit","evidence":"a/b@2","last_seen":"2026-01-01T00:00:00Z"},\
            {"address":"me@\(d)","source":"profile","evidence":"profile","last_seen":"2024-01-01T00:00:00Z"}]}
            {"emails":[{"address":"a@\(d)","source":"commit","last_seen":"2026-01-01T00:00:00Z"},{"address":"info@\(d)","source":"profile"}]}

            """
        let r = try check([], input)
        XCTAssertEqual(r.status, 0, r.err)
        let out = try objects(r)
        XCTAssertEqual(out[0]["best_email"] as? String, "me@\(d)")
        XCTAssertEqual((out[0]["crm"] as? [String: Any])?["x"] as? [AnyHashable], [1, "y"])
        XCTAssertEqual(out[0]["login"] as? String, "ada")
        XCTAssertEqual(out[1]["best_email"] as? String, "a@\(d)", "safe beats a risky role address from the profile")
    }

    func testDeadLettersAndFilters() throws {
        let d = try companyDomain()
        let dead = try domain("nxdomain")
        let dir = Spawn.tempDirectory()
        let input = "{\"email\":\"a@\(d)\"}\n{\"email\":\n{\"name\":\"no email\"}\n{\"email\":\"x@\(dead)\"}\n{\"email\":\"info@\(d)\"}\n"
        let r = try check(["--drop-invalid", "--dead-letter", dir + "/dl"], input)
        XCTAssertEqual(r.status, 0, r.err)
        // On failure, show the verdicts (a DNS try lost under load turns a verdict into unknown).
        XCTAssertEqual(try objects(r).count, 1, r.out + r.err)
        let s = try summary(r)
        XCTAssertEqual((s["filtered_by"] as? [String: Int])?["invalid"], 1, r.out + r.err)
        XCTAssertEqual((s["filtered_by"] as? [String: Int])?["role_only"], 1, "info@ is deliverable but not a person: \(r.err)")
        XCTAssertEqual(s["dead_lettered"] as? Int, 2)
        let letters = try String(contentsOfFile: dir + "/dl", encoding: .utf8)
        XCTAssertTrue(letters.contains("bad_json") && letters.contains("missing_field"), letters)

        let safeOnly = try check(["--min-verdict", "safe", "--dead-letter", "/dev/null"], input)
        XCTAssertEqual(try objects(safeOnly).count, 1, safeOnly.out + safeOnly.err)
        XCTAssertEqual((try summary(safeOnly)["filtered_by"] as? [String: Int])?["below_safe"], 1)
        XCTAssertEqual((try summary(safeOnly)["filtered_by"] as? [String: Int])?["role_only"], 1)

        let none = try check(["--dead-letter", "/dev/null"], "{\"a\":1}\n{\"b\":[]}\n")
        XCTAssertEqual(none.status, 65, none.err)
        // A person without any address is data: it passes unchecked, or is filtered as no_email.
        let empty = "{\"login\":\"x\",\"emails\":[]}\n"
        let passed = try check([], empty)
        XCTAssertEqual(passed.status, 0, passed.err)
        XCTAssertEqual(passed.out, "{\"login\":\"x\",\"emails\":[],\"email_checks\":[],\"best_email\":null}\n")
        for flags in [["--drop-invalid"], ["--min-verdict", "risky"]] {
            let r = try check(flags, empty)
            XCTAssertEqual(r.status, 0, r.err)
            XCTAssertEqual(r.out, "")
            XCTAssertEqual((try summary(r)["filtered_by"] as? [String: Int])?["no_email"], 1, r.err)
        }
        XCTAssertEqual(try check(["--min-verdict", "great"], "").status, 64)
    }

    func testDownstreamClosingEarly() throws {
        let s = try Self.sandbox()
        let all = try domains().keys.sorted().filter { !["timeout", "slow"].contains(try! domains()[$0]!) }
        let file = Spawn.tempDirectory() + "/in.ndjson"
        try all.map { "{\"email\":\"a@\($0)\"}" }.joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let before = try s.requests("dns MX")
        let r = try Spawn.shell(
            "CMO_DNS_SERVER=\(s.environment["CMO_DNS_SERVER"]!) mx-check -q --chunk-size 5 < \(file) | head -n 1; echo \"status=${PIPESTATUS[0]}\""
        )
        XCTAssertTrue(r.out.contains("status=0"), r.out + r.err)
        XCTAssertLessThan(try s.requests("dns MX") - before, all.count)
    }
}
