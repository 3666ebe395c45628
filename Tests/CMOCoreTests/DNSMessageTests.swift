import XCTest

@testable import CMOBasics
@testable import CMODNS
@testable import CMOScoring

#if canImport(Glibc)
    import Glibc
#endif

/// The wire parser on hand-built replies, good and malformed, and a resolver nobody answers.
final class DNSMessageTests: XCTestCase {
    let q = DNSQuery("acme.io", .mx)

    /// A reply header for id 0x1234 (QR, RD, RA) with the given counts and rcode, then the question.
    func reply(an: Int = 0, ns: Int = 0, ar: Int = 0, rcode: UInt16 = 0, tc: Bool = false) -> [UInt8] {
        var b: [UInt8] = []
        DNSMessage.put16(&b, 0x1234)
        DNSMessage.put16(&b, 0x8180 | rcode | (tc ? 0x0200 : 0))
        for c in [1, an, ns, ar] { DNSMessage.put16(&b, UInt16(c)) }
        b += DNSMessage.encodeName("acme.io")!
        DNSMessage.put16(&b, 15)
        DNSMessage.put16(&b, 1)
        return b
    }

    /// An MX record whose owner is a pointer to the question name (offset 12).
    func mx(_ pref: UInt16, _ exchange: [UInt8], ttl: UInt32 = 300) -> [UInt8] {
        var b: [UInt8] = [0xc0, 12]
        DNSMessage.put16(&b, 15)
        DNSMessage.put16(&b, 1)
        DNSMessage.put16(&b, UInt16(ttl >> 16))
        DNSMessage.put16(&b, UInt16(ttl & 0xffff))
        DNSMessage.put16(&b, UInt16(2 + exchange.count))
        DNSMessage.put16(&b, pref)
        return b + exchange
    }

    func parse(_ b: [UInt8]) -> DNSMessage.Parsed { DNSMessage.parse(b, id: 0x1234, q) }

    func testWellFormedReplies() {
        let two =
            reply(an: 2) + mx(10, DNSMessage.encodeName("mx1.acme.io")!, ttl: 300) + mx(20, [3] + Array("mx2".utf8) + [0xc0, 12], ttl: 60)
        XCTAssertEqual(
            parse(two),
            .result(.answer([.mx(preference: 10, exchange: "mx1.acme.io"), .mx(preference: 20, exchange: "mx2.acme.io")], ttl: 60)))
        XCTAssertEqual(parse(reply(an: 1) + mx(0, [0])), .result(.answer([.mx(preference: 0, exchange: "")], ttl: 300)))
        XCTAssertEqual(parse(reply(rcode: 3)), .result(.nxdomain(ttl: nil)))
        XCTAssertEqual(parse(reply(rcode: 2)), .result(.servfail))
        XCTAssertEqual(parse(reply(rcode: 5)), .result(.refused))
        XCTAssertEqual(parse(reply(tc: true)), .truncated)
        XCTAssertEqual(parse(reply()), .result(.noData(ttl: nil)))
    }

    func testStraysAreIgnored() {
        var other = reply()
        other[1] = 0x35
        XCTAssertEqual(parse(other), .stray)
        XCTAssertEqual(DNSMessage.parse(reply(), id: 0x1234, DNSQuery("acme.io", .a)), .stray)
        XCTAssertEqual(DNSMessage.parse(reply(), id: 0x1234, DNSQuery("other.io", .mx)), .stray)
        XCTAssertEqual(parse([1, 2, 3]), .stray)
    }

    func testCompressionLoopIsAnError() {
        // The exchange points at itself: offset of the pointer = its own position.
        let head = reply(an: 1)
        let selfPointer = head.count + 12 + 2  // record owner(2) + type/class/ttl/rdlength(10) + preference(2)
        let looped = head + mx(10, [0xc0, UInt8(selfPointer)])
        guard case .result(.error) = parse(looped) else { return XCTFail("\(parse(looped))") }
        // A forward pointer is refused too (only backward pointers can never loop).
        let forward = head + mx(10, [0xc0, UInt8(selfPointer + 1), 0])
        guard case .result(.error) = parse(forward) else { return XCTFail("\(parse(forward))") }
        var at = 0
        XCTAssertNil(DNSMessage.readName([0xc0, 0x00], &at))
    }

    func testTruncatedRecordAndCountMismatchAreErrors() {
        let full = reply(an: 1) + mx(10, DNSMessage.encodeName("mx1.acme.io")!)
        for cut in 1..<(full.count - reply(an: 1).count) {
            guard case .result(.error) = parse(Array(full.dropLast(cut))) else {
                return XCTFail("cut \(cut): \(parse(Array(full.dropLast(cut))))")
            }
        }
        guard case .result(.error) = parse(reply(an: 3) + mx(10, [0])) else { return XCTFail("count above records") }
        guard case .result(.error) = parse(reply(an: 0) + mx(10, [0])) else { return XCTFail("records above count") }
    }

    func testLabelAndNameLimits() {
        XCTAssertNil(DNSMessage.encodeName(String(repeating: "a", count: 64) + ".io"))
        XCTAssertNil(DNSMessage.encodeName(Array(repeating: String(repeating: "a", count: 60), count: 5).joined(separator: ".")))
        XCTAssertNil(DNSMessage.encodeName("a..b"))
        XCTAssertNil(DNSMessage.encodeName("bücher.de"))
        XCTAssertEqual(DNSMessage.encodeName("acme.io."), DNSMessage.encodeName("acme.io"))
        // A received name longer than 255 bytes, built of backward pointers to 63-byte labels.
        var b: [UInt8] = []
        var starts: [Int] = []
        for i in 0..<5 {
            starts.append(b.count)
            let tail: [UInt8] = i == 0 ? [0] : [0xc0 | UInt8(starts[i - 1] >> 8), UInt8(starts[i - 1] & 0xff)]
            b += [63] + Array(repeating: UInt8(97), count: 63) + tail
        }
        var at = starts[4]
        XCTAssertNil(DNSMessage.readName(b, &at))
    }

    func testGarbageNeverCrashes() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            var b = reply(an: Int.random(in: 0...3), ns: Int.random(in: 0...2))
            b += (0..<Int.random(in: 0...80)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            _ = parse(b)
        }
    }

    func testResolvConf() {
        let conf = ResolvConf(
            parsing: "# local\nnameserver 10.0.0.1\nnameserver ::1\nnameserver 10.0.0.2\noptions ndots:1 timeout:3 attempts:4\n")
        XCTAssertEqual(conf.servers, [DNSServerAddress(host: "10.0.0.1"), DNSServerAddress(host: "10.0.0.2")])
        XCTAssertEqual(conf.timeout, 3)
        XCTAssertEqual(conf.attempts, 4)
        XCTAssertEqual(DNSResolver.system(ResolvConf(parsing: "")).servers, [DNSServerAddress(host: "127.0.0.1")])
        XCTAssertEqual(DNSServerAddress("127.0.0.1:5353"), DNSServerAddress(host: "127.0.0.1", port: 5353))
        XCTAssertNil(DNSServerAddress("localhost:53"))
        XCTAssertNil(DNSServerAddress("127.0.0.1:x"))
    }

    /// A bound UDP socket that never answers: every query times out after attempts × timeout, no hang.
    func testSilentServerTimesOut() throws {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var sa = sockaddr_in()
        sa.sin_family = sa_family_t(AF_INET)
        sa.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &sa) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        XCTAssertTrue(bound)
        let resolver = DNSResolver(
            servers: [DNSServerAddress(host: "127.0.0.1", port: UInt16(bigEndian: sa.sin_port))], timeout: 0.2, attempts: 2)
        let start = Date()
        let results = resolver.resolve([DNSQuery("acme.io", .mx), DNSQuery("acme.io", .a), DNSQuery("bad..name", .a)])
        XCTAssertEqual(Array(results.prefix(2)), [.timeout, .timeout])
        guard case .error = results[2] else { return XCTFail("\(results[2])") }
        XCTAssertLessThan(Date().timeIntervalSince(start), 3)
        // Nothing listening at all (ICMP port unreachable) also ends in a timeout.
        XCTAssertEqual(DNSResolver(server: "127.0.0.1:9", timeout: 0.1, attempts: 1)!.resolve(DNSQuery("acme.io", .mx)), .timeout)
    }
}
