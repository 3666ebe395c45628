import CMOTestSupport
import Foundation
import XCTest

@testable import CMODNS
@testable import CMOScoring

/// The resolver against the sandbox's DNS server: one domain of each behaviour from `/_sandbox/truth`.
final class DNSResolverTests: XCTestCase {
    nonisolated(unsafe) static var sandbox: SandboxLauncher!
    nonisolated(unsafe) static var domains: [String: String] = [:]

    override class func setUp() {
        sandbox = try! SandboxLauncher(["--users", "1300"])  // ~200 corporate domains for the measurement
        domains = (try! sandbox.truth())["domains"] as? [String: String] ?? [:]
    }

    override class func tearDown() { sandbox.stop() }

    var server: String { Self.sandbox.environment["CMO_DNS_SERVER"] ?? "" }

    func resolver(timeout: Double = 1, attempts: Int = 1) throws -> DNSResolver {
        try XCTUnwrap(DNSResolver(server: server, timeout: timeout, attempts: attempts))
    }

    /// A domain whose truth label is `kind`.
    func domain(_ kind: String) throws -> String {
        try XCTUnwrap(Self.domains.filter { $0.value == kind }.keys.sorted().first, "no \(kind) domain in the truth")
    }

    func testMXAnswer() throws {
        let r = try resolver().resolve(DNSQuery(try domain("mx"), .mx))
        guard case .answer(let records, let ttl) = r else { return XCTFail("\(r)") }
        XCTAssertFalse(records.isEmpty)
        XCTAssertGreaterThan(ttl, 0)
        guard case .mx(_, let exchange) = records[0] else { return XCTFail("\(records)") }
        XCTAssertFalse(exchange.isEmpty)
        // The exchange host resolves to an address.
        guard case .answer(let addresses, _) = try resolver().resolve(DNSQuery(exchange, .a)) else {
            return XCTFail("no A for \(exchange)")
        }
        XCTAssertFalse(addresses.isEmpty)
    }

    func testAOnlyHasNoMXButAnAddress() throws {
        let d = try domain("a_only")
        let results = try resolver().resolve([DNSQuery(d, .mx), DNSQuery(d, .a)])
        guard case .noData = results[0] else { return XCTFail("\(results[0])") }
        guard case .answer(let records, _) = results[1], case .address(let ip) = records.first else { return XCTFail("\(results[1])") }
        XCTAssertEqual(ip.split(separator: ".").count, 4)
    }

    func testNullMX() throws {
        let r = try resolver().resolve(DNSQuery(try domain("null_mx"), .mx))
        guard case .answer(let records, _) = r else { return XCTFail("\(r)") }
        XCTAssertEqual(records, [.mx(preference: 0, exchange: "")])
    }

    func testNXDomainAndServfail() throws {
        let results = try resolver().resolve([DNSQuery(try domain("nxdomain"), .mx), DNSQuery(try domain("servfail"), .mx)])
        guard case .nxdomain = results[0] else { return XCTFail("\(results[0])") }
        XCTAssertEqual(results[1], .servfail)
    }

    func testTimeoutWithAShortTimeout() throws {
        let start = Date()
        XCTAssertEqual(try resolver(timeout: 0.2, attempts: 2).resolve(DNSQuery(try domain("timeout"), .mx)), .timeout)
        XCTAssertLessThan(Date().timeIntervalSince(start), 2)
    }

    func testTruncatedFallsBackToTCP() throws {
        let r = try resolver(timeout: 2).resolve(DNSQuery(try domain("truncated"), .mx))
        guard case .answer(let records, _) = r else { return XCTFail("\(r)") }
        XCTAssertEqual(records.count, 24)
    }

    func testSlowIsAnsweredWithinALongerTimeout() throws {
        let d = try domain("slow")
        XCTAssertEqual(try resolver(timeout: 0.3, attempts: 1).resolve(DNSQuery(d, .mx)), .timeout)
        guard case .answer = try resolver(timeout: 3).resolve(DNSQuery(d, .mx)) else { return XCTFail("slow not answered") }
    }

    func testBatchKeepsInputOrder() throws {
        let kinds = ["mx", "nxdomain", "servfail", "null_mx", "a_only", "mx"]
        let results = try resolver().resolve(try kinds.map { DNSQuery(try domain($0), .mx) })
        guard case .answer = results[0], case .nxdomain = results[1], case .noData = results[4] else { return XCTFail("\(results)") }
        XCTAssertEqual(results[2], .servfail)
        XCTAssertEqual(results[0], results[5])
    }

    /// Not an assertion: prints how long 1,000 queries over 200 domains take (timeouts included).
    func testMeasureThousandQueries() throws {
        let names = Self.domains.keys.sorted().prefix(200)
        let types: [DNSRecordType] = [.mx, .a, .aaaa, .mx, .a]
        let queries = (0..<1000).map { DNSQuery(names[names.startIndex + $0 % names.count], types[$0 / names.count % types.count]) }
        let start = Date()
        let results = try resolver(timeout: 1, attempts: 2).resolve(queries)
        let seconds = Date().timeIntervalSince(start)
        let timeouts = results.filter { $0 == .timeout }.count
        print(
            "DNS measure: \(queries.count) queries over \(names.count) domains in \(String(format: "%.2f", seconds)) s (\(timeouts) timeouts, timeout 1 s × 2 tries)"
        )
        // The same without the never-answering and 1.5 s-delayed domains, which otherwise set the wall time.
        let answering = queries.filter { !["timeout", "slow"].contains(Self.domains[$0.name] ?? "") }
        for inFlight in [16, 64, 256] {
            var r = try resolver(timeout: 1, attempts: 2)
            r.maxInFlight = inFlight
            let start2 = Date()
            _ = r.resolve(answering)
            print(
                "DNS measure: \(answering.count) queries to answering domains, \(inFlight) in flight: \(String(format: "%.3f", Date().timeIntervalSince(start2))) s"
            )
        }
    }
}
