import CMOTestSupport
import Foundation
import XCTest

@testable import CMODNS
@testable import CMOScoring

#if canImport(Glibc)
    import Glibc
#endif

/// A real DNS server from Debian's packages: `dnsmasq` (package dnsmasq-base, installed by bin/setup)
/// in authoritative mode for the zone `test.`, on a free 127.0.0.1 port, from a configuration the test
/// writes. Runs as root or not (no user change, no pid file, no /etc/resolv.conf, no /etc/hosts) and
/// logs every query to a file, so tests count what the server saw.
final class DNSMasq {
    let directory: String
    let port: UInt16
    var server: String { "127.0.0.1:\(port)" }
    var logFile: String { directory + "/queries.log" }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// The installed binary, if any.
    static var binary: String? {
        ["/usr/sbin/dnsmasq", "/usr/bin/dnsmasq", "/sbin/dnsmasq"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// The binary or an XCTSkip saying how to get it.
    static func required() throws -> String {
        guard let b = binary else {
            throw XCTSkip("dnsmasq is not installed (Debian package dnsmasq-base; bin/setup --deps-only installs it)")
        }
        return b
    }

    /// Starts dnsmasq with `zone` (dnsmasq option lines) and waits until it answers; every answer, and
    /// the SOA minimum (the negative TTL), carries `ttl` (authoritative mode ignores per-record TTLs).
    init(zone: [String], ttl: Int = 120) throws {
        let binary = try Self.required()
        directory = Spawn.tempDirectory()
        var lastError = ""
        for _ in 0..<10 {
            let port = Self.freePort()
            let conf = [
                "port=\(port)", "listen-address=127.0.0.1", "bind-interfaces", "no-resolv", "no-hosts", "no-poll",
                "keep-in-foreground", "pid-file=", "user=", "group=", "log-queries", "log-facility=\(directory)/queries.log",
                "auth-server=ns.test,127.0.0.1", "auth-zone=test", "auth-ttl=\(ttl)", "auth-soa=1,hostmaster.test,1200,120,1200",
                "host-record=ready.test,192.0.2.250",
            ]
            try (conf + zone).joined(separator: "\n").write(toFile: directory + "/dnsmasq.conf", atomically: true, encoding: .utf8)
            let errPath = directory + "/stderr"
            // posix_spawn, not Foundation.Process: dnsmasq closes the descriptors it inherits, and
            // Process takes that for an exit and blocks in waitpid, stalling every later Process.
            // Under timeout(1), so a crashed test process does not leave dnsmasq behind for long.
            let pid = try Self.spawn("/usr/bin/timeout", ["300", binary, "--conf-file=\(directory)/dnsmasq.conf"], stderr: errPath)
            let probe = DNSResolver(servers: [DNSServerAddress(host: "127.0.0.1", port: port)], timeout: 0.2, attempts: 1)
            let deadline = Date().addingTimeInterval(10)
            var status: Int32 = 0
            while waitpid(pid, &status, WNOHANG) == 0, Date() < deadline {
                if case .answer = probe.resolve(DNSQuery("ready.test", .a)) {
                    self.port = port
                    self.pid = pid
                    return
                }
            }
            if kill(pid, SIGTERM) == 0 { waitpid(pid, &status, 0) }
            lastError = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        }
        throw Failure(description: "dnsmasq did not start: \(lastError)")
    }

    private var pid: pid_t = 0

    /// Starts `path` with `arguments`, stdin and stdout on /dev/null, stderr into the file `stderr`.
    static func spawn(_ path: String, _ arguments: [String], stderr: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let envp: [UnsafeMutablePointer<CChar>?] = [strdup("PATH=/usr/bin:/bin"), nil]
        defer { envp.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, path, &actions, nil, argv, envp)
        guard rc == 0 else { throw Failure(description: "cannot start \(path): \(String(cString: strerror(rc)))") }
        return pid
    }

    /// A UDP port that was free a moment ago on 127.0.0.1.
    static func freePort() -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        return bindLoopback(fd)
    }

    /// Binds a UDP socket to a free port on 127.0.0.1 and returns the port.
    static func bindLoopback(_ fd: Int32) -> UInt16 {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return UInt16(bigEndian: addr.sin_port)
    }

    /// Queries the server logged for `name` and `type` (e.g. "MX"), `ready.test` excluded.
    func queries(_ type: String, _ name: String? = nil) -> Int {
        let log = (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? ""
        return log.split(separator: "\n").filter { line in
            guard let r = line.range(of: "[\(type)] ") else { return false }
            let rest = line[r.upperBound...]
            return !rest.hasPrefix("ready.test ") && (name == nil || rest.hasPrefix("\(name!) "))
        }.count
    }

    func stop() {
        if pid > 0, kill(pid, SIGTERM) == 0 {
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        pid = 0
        try? FileManager.default.removeItem(atPath: directory)
    }

    deinit { stop() }
}

/// A UDP "resolver" on loopback that reads every packet and never answers.
final class SilentResolver: @unchecked Sendable {
    let fd: Int32
    let port: UInt16
    private let lock = NSLock()
    private var count = 0
    private var stopped = false
    private let done = DispatchSemaphore(value: 0)

    init() {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        var size: Int32 = 4 << 20  // hundreds of queries may land at once; count them all
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        self.fd = fd
        port = DNSMasq.bindLoopback(fd)
        Thread { [self] in
            var buffer = [UInt8](repeating: 0, count: 4096)
            while !lock.withLock({ stopped }) {
                var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&p, 1, 50) > 0 else { continue }
                if recv(fd, &buffer, buffer.count, 0) > 0 { lock.withLock { count += 1 } }
            }
            done.signal()
        }.start()
    }

    /// Packets read (and dropped) so far.
    var packets: Int { lock.withLock { count } }

    /// Packets read once `n` have arrived or 2 s have passed (the reader polls every 50 ms).
    func packets(atLeast n: Int) -> Int {
        let deadline = Date().addingTimeInterval(2)
        while packets < n, Date() < deadline { usleep(10_000) }
        return packets
    }

    func stop() {
        lock.withLock { stopped = true }
        done.wait()
        close(fd)
    }
}

/// mx-check against dnsmasq, a real DNS server from Debian's packages, and against a resolver that
/// never answers: every DNS case of the verdict table, and the persistent cache (TTLs, negative TTLs,
/// nothing kept for failures, --no-cache, runs side by side).
final class MXCheckRealDNSTests: XCTestCase {
    /// The zone: one domain per case; names under `test.` not listed are NXDOMAIN, names outside it REFUSED.
    static let zone = [
        "mx-host=mx.test,mail.mx.test,10", "mx-host=mx.test,mail2.mx.test,20", "host-record=mail.mx.test,192.0.2.10",
        "host-record=mail2.mx.test,192.0.2.12", "host-record=aonly.test,192.0.2.11", "host-record=v6only.test,2001:db8::11",
        "mx-host=nullmx.test,.,0", "mx-host=deadmx.test,nowhere.deadmx.test,10",
    ]

    var dns: DNSMasq!
    var state: String!

    override func setUpWithError() throws {
        dns = try DNSMasq(zone: Self.zone)
        state = Spawn.tempDirectory()
    }

    override func tearDown() {
        dns?.stop()
        if let state { try? FileManager.default.removeItem(atPath: state) }
    }

    func run(_ input: String, _ args: [String] = [], server: String? = nil, stateDir: String? = nil) throws -> SpawnResult {
        try Spawn.run(
            "mx-check", ["--dns-server", server ?? dns.server, "--dns-timeout", "1", "--dns-attempts", "2", "--log-format", "json"] + args,
            stdin: Data(input.utf8), environment: ["CMO_STATE_DIR": stateDir ?? state])
    }

    func objects(_ r: SpawnResult) throws -> [[String: Any]] {
        try r.lines.map { try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
    }

    func summary(_ r: SpawnResult) throws -> [String: Any] {
        let line = r.err.split(separator: "\n").last.map(String.init) ?? ""
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], r.err)
    }

    func checks(_ r: SpawnResult) throws -> [String: [String: Any]] {
        var out: [String: [String: Any]] = [:]
        for o in try objects(r) {
            for c in o["email_checks"] as? [[String: Any]] ?? [] { out[c["address"] as! String] = c }
        }
        return out
    }

    static let everyCase =
        [
            "a@mx.test", "b@aonly.test", "c@v6only.test", "d@nullmx.test", "e@nowhere-at-all.test", "f@deadmx.test",
            "g@outside.example",
        ]
        .map { "{\"email\":\"\($0)\"}" }.joined(separator: "\n") + "\n"

    func testEveryCaseAgainstDnsmasq() throws {
        let r = try run(Self.everyCase)
        XCTAssertEqual(r.status, 0, r.err)
        let c = try checks(r)
        func expect(_ address: String, _ verdict: String, _ reasons: [String], mx: [String]? = nil, line: UInt = #line) {
            XCTAssertEqual(c[address]?["verdict"] as? String, verdict, "\(address): \(c[address] ?? [:])", line: line)
            XCTAssertEqual(c[address]?["reasons"] as? [String], reasons, address, line: line)
            if let mx { XCTAssertEqual(c[address]?["mx"] as? [String], mx, address, line: line) }
        }
        expect("a@mx.test", "safe", [], mx: ["mail.mx.test", "mail2.mx.test"])
        expect("b@aonly.test", "safe", ["implicit_mx"], mx: ["aonly.test"])
        expect("c@v6only.test", "safe", ["implicit_mx"], mx: ["v6only.test"])
        expect("d@nullmx.test", "invalid", ["null_mx"])
        expect("e@nowhere-at-all.test", "invalid", ["nxdomain"])
        expect("f@deadmx.test", "risky", ["mx_hosts_unresolvable"], mx: ["nowhere.deadmx.test"])
        expect("g@outside.example", "unknown", ["dns_refused"])
        let out = try objects(r)
        XCTAssertEqual(
            out.map { $0["best_email"] as? String },
            ["a@mx.test", "b@aonly.test", "c@v6only.test", nil, nil, "f@deadmx.test", "g@outside.example"])
        // One MX query per domain, as the server saw them.
        XCTAssertEqual(dns.queries("MX"), 7)
        for d in ["mx.test", "aonly.test", "nullmx.test", "outside.example"] { XCTAssertEqual(dns.queries("MX", d), 1, d) }
        XCTAssertEqual(dns.queries("A", "mail.mx.test"), 1)
        XCTAssertEqual(dns.queries("AAAA", "v6only.test"), 1)
    }

    func testPersistentCacheSkipsFreshAnswers() throws {
        let first = try run(Self.everyCase)
        XCTAssertEqual(first.status, 0, first.err)
        XCTAssertTrue(FileManager.default.fileExists(atPath: state + "/dns.sqlite"))
        let asked = dns.queries("MX") + dns.queries("A") + dns.queries("AAAA")
        XCTAssertEqual(try summary(first)["dns_queries"] as? Int, asked)
        XCTAssertEqual(try summary(first)["dns_cache_hits"] as? Int, 0)

        let second = try run(Self.everyCase)
        XCTAssertEqual(second.status, 0, second.err)
        XCTAssertEqual(second.out, first.out, "the cache gives the same verdicts")
        // Only REFUSED (never cached) is asked again; positive answers and SOA-bearing negatives are fresh.
        XCTAssertEqual(dns.queries("MX") + dns.queries("A") + dns.queries("AAAA"), asked + 1)
        XCTAssertEqual(dns.queries("MX", "outside.example"), 2)
        XCTAssertEqual(dns.queries("MX", "mx.test"), 1)
        XCTAssertEqual(dns.queries("MX", "nowhere-at-all.test"), 1, "NXDOMAIN kept for its SOA negative TTL")
        XCTAssertEqual(dns.queries("MX", "aonly.test"), 1, "NODATA kept for its SOA negative TTL")
        let s = try summary(second)
        XCTAssertEqual(s["dns_queries"] as? Int, 1)
        XCTAssertEqual(s["dns_cache_hits"] as? Int, asked - 1)
        XCTAssertEqual(s["dns_cache"] as? String, "on")

    }

    func testStaleAnswersAreAskedAgain() throws {
        let quick = try DNSMasq(zone: Self.zone, ttl: 2)
        defer { quick.stop() }
        let input = "{\"email\":\"a@mx.test\"}\n{\"email\":\"b@aonly.test\"}\n{\"email\":\"c@gone.test\"}\n"
        let t0 = Date()
        XCTAssertEqual(try run(input, server: quick.server).status, 0)
        let asked = ["MX", "A", "AAAA"].map { quick.queries($0) }
        XCTAssertEqual(asked, [3, 3, 0])  // MX ×3; A of mail.mx.test, mail2.mx.test, aonly.test
        let second = try run(input, server: quick.server)
        if Date().timeIntervalSince(t0) < 1.9 {  // still within the 2-second TTL
            XCTAssertEqual(["MX", "A", "AAAA"].map { quick.queries($0) }, asked, "fresh: nothing asked")
            XCTAssertEqual(try summary(second)["dns_cache_hits"] as? Int, 6)
        }
        usleep(useconds_t(max(0, 2.2 - Date().timeIntervalSince(t0)) * 1_000_000))  // the TTL is wall-clock time
        let third = try run(input, server: quick.server)
        XCTAssertEqual(third.out, second.out)
        XCTAssertEqual(["MX", "A", "AAAA"].map { quick.queries($0) }, asked.map { $0 * 2 }, "stale: everything asked again")
        XCTAssertEqual(try summary(third)["dns_cache_hits"] as? Int, 0)
    }

    func testNoCacheNeitherReadsNorWrites() throws {
        let r = try run(Self.everyCase, ["--no-cache"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: state + "/dns.sqlite"))
        XCTAssertEqual(try summary(r)["dns_cache"] as? String, "off")
        _ = try run(Self.everyCase)
        let asked = dns.queries("MX")
        let config = state + "/mx.yaml"
        try "no-cache: true\n".write(toFile: config, atomically: true, encoding: .utf8)
        let again = try run(Self.everyCase, ["--config", config])
        XCTAssertEqual(again.status, 0, again.err)
        XCTAssertEqual(dns.queries("MX"), asked + 7, "the config key turns the cache off too")
        XCTAssertEqual(try summary(again)["dns_cache_hits"] as? Int, 0)
    }

    func testRunsSideBySideShareTheCache() throws {
        let input = (0..<40).map { "{\"email\":\"p\($0)@mx.test\",\"emails\":[\"q@aonly.test\",\"r@nullmx.test\"]}" }.joined(
            separator: "\n")
        let results = NSLock()
        nonisolated(unsafe) var statuses: [Int32] = []
        nonisolated(unsafe) var errors: [String] = []
        let (server, state) = (dns.server, state!)
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            let r = try? Spawn.run(
                "mx-check", ["--dns-server", server, "--log-format", "json"], stdin: Data(input.utf8),
                environment: ["CMO_STATE_DIR": state])
            results.withLock {
                statuses.append(r?.status ?? -1)
                errors.append(r?.err ?? "spawn failed")
            }
        }
        XCTAssertEqual(statuses, [0, 0, 0, 0], errors.joined(separator: "\n"))
        XCTAssertFalse(errors.contains { $0.contains("locked") || $0.contains("cache not used") }, errors.joined(separator: "\n"))
    }

    func testManyDomainsOnADeadResolverDoNotWaitWindowByWindow() throws {
        let silent = SilentResolver()
        defer { silent.stop() }
        let input = (0..<400).map { "{\"email\":\"ada@d\($0).example\"}" }.joined(separator: "\n") + "\n"
        let start = Date()
        let r = try Spawn.run(
            "mx-check", ["--dns-server", "127.0.0.1:\(silent.port)", "--dns-timeout", "0.3", "--dns-attempts", "1", "--no-cache"],
            stdin: Data(input.utf8))
        let elapsed = Date().timeIntervalSince(start)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.lines.filter { $0.contains("\"dns_timeout\"") }.count, 400)
        // The first 64 time out (0.3 s), then the other 336 go out together (0.3 s): not 7 windows of 64.
        XCTAssertLessThan(elapsed, 1.5, "7 × 0.3 s would mean waiting window by window")
        XCTAssertEqual(silent.packets(atLeast: 400), 400)
    }

    func testADeadResolverIsNamedInAWarningWithTheCount() throws {
        let silent = SilentResolver()
        defer { silent.stop() }
        let input = (0..<20).map { "{\"email\":\"ada@d\($0).example\"}" }.joined(separator: "\n") + "\n"
        let r = try Spawn.run(
            "mx-check", ["--dns-server", "127.0.0.1:\(silent.port)", "--dns-timeout", "0.2", "--dns-attempts", "1", "--no-cache"],
            stdin: Data(input.utf8))
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.lines.count, 20, "every record still accounted for, as unknown")
        XCTAssertTrue(
            r.err.contains("warning: DNS server 127.0.0.1:\(silent.port) never answered: 20 of 20 queries timed out"), r.err)
        XCTAssertTrue(r.err.contains("dns_timeouts=20"), r.err)
        // A resolver that answers gives no such warning.
        let fine = try run(Self.everyCase, ["--no-cache"])
        XCTAssertFalse(fine.err.contains("never answered"), fine.err)
    }

    func testUnwritableStateDirectoryIsAConfigError() throws {
        let r = try run(Self.everyCase, stateDir: "/dev/null/cmo")
        XCTAssertEqual(r.status, 78, r.err)
        XCTAssertTrue(r.err.contains("/dev/null/cmo"), r.err)
        XCTAssertEqual(try run(Self.everyCase, ["--no-cache"], stateDir: "/dev/null/cmo").status, 0)
    }

    func testResolverThatNeverAnswers() throws {
        let silent = SilentResolver()
        defer { silent.stop() }
        let domains = (0..<30).map { "d\($0).example" }
        let input = domains.map { "{\"email\":\"ada@\($0)\"}" }.joined(separator: "\n") + "\n"
        let start = Date()
        let r = try Spawn.run(
            "mx-check",
            ["--dns-server", "127.0.0.1:\(silent.port)", "--dns-timeout", "0.4", "--dns-attempts", "2", "--log-format", "json"],
            stdin: Data(input.utf8), environment: ["CMO_STATE_DIR": state])
        let elapsed = Date().timeIntervalSince(start)
        XCTAssertEqual(r.status, 0, r.err)
        let out = try objects(r)
        XCTAssertEqual(out.count, domains.count)
        for o in out {
            let c = (o["email_checks"] as? [[String: Any]])?.first ?? [:]
            XCTAssertEqual(c["verdict"] as? String, "unknown", "\(c)")
            XCTAssertEqual(c["reasons"] as? [String], ["dns_timeout"])
            XCTAssertNotNil(o["best_email"] as? String, "unknown is never invalid")
        }
        // Every query in flight at once: two tries of 0.4 s, not 30 × 2 × 0.4 s.
        XCTAssertGreaterThanOrEqual(elapsed, 0.8)
        XCTAssertLessThan(elapsed, 4, "timeouts run in parallel")
        XCTAssertEqual(silent.packets(atLeast: domains.count * 2), domains.count * 2, "one MX query per domain, tried twice")
        // Timeouts are not cached: the next run asks again.
        _ = try Spawn.run(
            "mx-check", ["--dns-server", "127.0.0.1:\(silent.port)", "--dns-timeout", "0.2", "--dns-attempts", "1"],
            stdin: Data(input.utf8), environment: ["CMO_STATE_DIR": state])
        XCTAssertEqual(silent.packets(atLeast: domains.count * 3), domains.count * 3)
    }
}
