import Foundation
import XCTest

@testable import CMOSandbox

#if canImport(Glibc)
    import Glibc
    private let sockStream = Int32(SOCK_STREAM.rawValue)
    private let sockDgram = Int32(SOCK_DGRAM.rawValue)
#else
    import Darwin
    private let sockStream = SOCK_STREAM
    private let sockDgram = SOCK_DGRAM
#endif

/// A parsed DNS response, for assertions.
private struct DNSTestReply {
    var bytes: [UInt8]
    var id: UInt16 { u16(0) }
    var flags: UInt16 { u16(2) }
    var qr: Bool { flags & 0x8000 != 0 }
    var aa: Bool { flags & 0x0400 != 0 }
    var tc: Bool { flags & 0x0200 != 0 }
    var rd: Bool { flags & 0x0100 != 0 }
    var ra: Bool { flags & 0x0080 != 0 }
    var rcode: Int { Int(flags & 0xf) }
    var qdcount: Int { Int(u16(4)) }
    var ancount: Int { Int(u16(6)) }
    func u16(_ i: Int) -> UInt16 { UInt16(bytes[i]) << 8 | UInt16(bytes[i + 1]) }

    /// (type, ttl, rdata offset, rdata length) of each answer.
    var answers: [(type: UInt16, ttl: UInt32, at: Int, length: Int)] {
        var at = 12
        _ = DNSWire.readName(bytes, &at)
        at += 4
        var out: [(UInt16, UInt32, Int, Int)] = []
        for _ in 0..<ancount {
            _ = DNSWire.readName(bytes, &at)
            let type = u16(at)
            let ttl = UInt32(u16(at + 4)) << 16 | UInt32(u16(at + 6))
            let len = Int(u16(at + 8))
            out.append((type, ttl, at + 10, len))
            at += 10 + len
        }
        return out
    }

    var mx: [(UInt16, String)] {
        answers.filter { $0.type == 15 }.map { a in
            var at = a.at + 2
            return (u16(a.at), DNSWire.readName(bytes, &at)!.joined(separator: "."))
        }
    }

    var addresses: [String] {
        answers.filter { $0.type == 1 }.map { a in bytes[a.at..<(a.at + 4)].map(String.init).joined(separator: ".") }
    }

    var questionName: String {
        var at = 12
        return DNSWire.readName(bytes, &at)!.joined(separator: ".")
    }
}

private func query(_ name: String, type: UInt16, id: UInt16 = 0x1234, rd: Bool = true, edns: Bool = false) -> [UInt8] {
    var b: [UInt8] = []
    DNSWire.put16(&b, id)
    DNSWire.put16(&b, rd ? 0x0100 : 0)
    DNSWire.put16(&b, 1)
    DNSWire.put16(&b, 0)
    DNSWire.put16(&b, 0)
    DNSWire.put16(&b, edns ? 1 : 0)
    b += DNSWire.encodeName(name)
    DNSWire.put16(&b, type)
    DNSWire.put16(&b, 1)
    if edns {
        b += [0xc0, 0x0c]  // a compressed owner name, to show compressed input is read
        DNSWire.put16(&b, 41)
        DNSWire.put16(&b, 1232)
        b += [0, 0, 0, 0, 0, 0]
    }
    return b
}

private func loopback(_ port: UInt16) -> sockaddr_in {
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = port.bigEndian
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    return addr
}

private func setTimeout(_ fd: Int32, ms: Int) {
    var tv = timeval(tv_sec: ms / 1000, tv_usec: suseconds_t((ms % 1000) * 1000))
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
}

private func udp(_ port: UInt16, _ q: [UInt8], timeoutMS: Int = 2000) -> DNSTestReply? {
    let fd = socket(AF_INET, sockDgram, 0)
    defer { close(fd) }
    setTimeout(fd, ms: timeoutMS)
    var addr = loopback(port)
    _ = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, q, q.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    var buffer = [UInt8](repeating: 0, count: 4096)
    let n = recv(fd, &buffer, buffer.count, 0)
    return n > 0 ? DNSTestReply(bytes: Array(buffer[0..<n])) : nil
}

private func tcp(_ port: UInt16, _ q: [UInt8]) -> DNSTestReply? {
    let fd = socket(AF_INET, sockStream, 0)
    defer { close(fd) }
    setTimeout(fd, ms: 2000)
    var addr = loopback(port)
    let rc = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard rc == 0 else { return nil }
    var framed: [UInt8] = []
    DNSWire.put16(&framed, UInt16(q.count))
    framed += q
    guard write(fd, framed, framed.count) == framed.count else { return nil }
    var got: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        if got.count >= 2, got.count >= 2 + Int(DNSWire.u16(got, 0)) { break }
        let n = read(fd, &buffer, buffer.count)
        guard n > 0 else { return nil }
        got += buffer[0..<n]
    }
    return DNSTestReply(bytes: Array(got[2..<(2 + Int(DNSWire.u16(got, 0)))]))
}

final class DNSServerTests: XCTestCase {
    static let zone = DNSZone(
        domains: [
            "acme.io": .mx([(10, "mx1.acme.io"), (20, "mx2.acme.io")]),
            "aonly.io": .aOnly("192.0.2.20"),
            "null.io": .nullMX,
            "gone.io": .nxdomain,
            "broken.io": .servfail,
            "silent.io": .timeout,
            "big.io": .truncated((0..<40).map { (UInt16($0), "mail-exchanger-number-\($0).big-provider.example") }),
            "slow.io": .slow(milliseconds: 300, mx: [(5, "mx.slow.io")]),
        ],
        hosts: ["mx1.acme.io": ["192.0.2.10"], "mx2.acme.io": ["192.0.2.11"]])

    nonisolated(unsafe) static var server: DNSServer!
    nonisolated(unsafe) static var port: UInt16 = 0
    static let stats = SandboxStats()

    override class func setUp() {
        server = DNSServer(zone: zone, stats: stats)
        port = try! server.start()
    }

    override class func tearDown() { server.stop() }

    var port: UInt16 { Self.port }

    func testNormalMXAnswerAndHeaderFlags() throws {
        let r = try XCTUnwrap(udp(port, query("ACME.io", type: 15, id: 0xbeef)))
        XCTAssertEqual(r.id, 0xbeef)
        XCTAssertTrue(r.qr && r.aa && r.ra && r.rd)
        XCTAssertFalse(r.tc)
        XCTAssertEqual(r.rcode, 0)
        XCTAssertEqual(r.qdcount, 1)
        XCTAssertEqual(r.questionName, "ACME.io")
        XCTAssertEqual(r.mx.map { $0.0 }, [10, 20])
        XCTAssertEqual(r.mx.map { $0.1 }, ["mx1.acme.io", "mx2.acme.io"])
        XCTAssertEqual(r.answers.first?.ttl, 300)
        let noRD = try XCTUnwrap(udp(port, query("acme.io", type: 15, rd: false)))
        XCTAssertFalse(noRD.rd)
        let host = try XCTUnwrap(udp(port, query("mx1.acme.io", type: 1)))
        XCTAssertEqual(host.addresses, ["192.0.2.10"])
    }

    func testImplicitMXHasNoMXButAnA() throws {
        let mx = try XCTUnwrap(udp(port, query("aonly.io", type: 15)))
        XCTAssertEqual(mx.rcode, 0)
        XCTAssertEqual(mx.ancount, 0)
        let a = try XCTUnwrap(udp(port, query("aonly.io", type: 1)))
        XCTAssertEqual(a.addresses, ["192.0.2.20"])
        let aaaa = try XCTUnwrap(udp(port, query("aonly.io", type: 28)))
        XCTAssertEqual(aaaa.rcode, 0)
        XCTAssertEqual(aaaa.ancount, 0)
    }

    func testNullMX() throws {
        let r = try XCTUnwrap(udp(port, query("null.io", type: 15)))
        XCTAssertEqual(r.mx.count, 1)
        XCTAssertEqual(r.mx[0].0, 0)
        XCTAssertEqual(r.mx[0].1, "")
    }

    func testNXDomainServfailAndUnknownNames() throws {
        XCTAssertEqual(try XCTUnwrap(udp(port, query("gone.io", type: 15))).rcode, 3)
        XCTAssertEqual(try XCTUnwrap(udp(port, query("never-heard-of.example", type: 1))).rcode, 3)
        XCTAssertEqual(try XCTUnwrap(udp(port, query("broken.io", type: 15))).rcode, 2)
    }

    func testTimeoutGetsNoAnswer() {
        XCTAssertNil(udp(port, query("silent.io", type: 15), timeoutMS: 300))
    }

    func testTruncatedOverUDPThenFullOverTCP() throws {
        let u = try XCTUnwrap(udp(port, query("big.io", type: 15)))
        XCTAssertTrue(u.tc)
        XCTAssertEqual(u.ancount, 0)
        let t = try XCTUnwrap(tcp(port, query("big.io", type: 15)))
        XCTAssertFalse(t.tc)
        XCTAssertEqual(t.mx.count, 40)
        XCTAssertEqual(t.mx.last?.1, "mail-exchanger-number-39.big-provider.example")
        // Ordinary names work over TCP too.
        XCTAssertEqual(try XCTUnwrap(tcp(port, query("acme.io", type: 15))).mx.count, 2)
    }

    func testSlowAnswerIsDelayed() throws {
        let start = Date()
        let r = try XCTUnwrap(udp(port, query("slow.io", type: 15)))
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(start), 0.25)
        XCTAssertEqual(r.mx.first?.1, "mx.slow.io")
    }

    func testEDNSAndCompressedNamesAreTolerated() throws {
        let r = try XCTUnwrap(udp(port, query("acme.io", type: 15, edns: true)))
        XCTAssertEqual(r.rcode, 0)
        XCTAssertEqual(r.mx.count, 2)
        // A compressed name: "www" then a pointer to "acme.io" at offset 12.
        var b = DNSWire.encodeName("acme.io") + [3] + Array("www".utf8) + [0xc0, 0x00]
        b = [UInt8](repeating: 0, count: 12) + b
        b[21] = 0xc0
        b[22] = 12
        var at = 21
        XCTAssertEqual(DNSWire.readName(b, &at), ["acme", "io"])
    }

    func testMalformedQueryGetsFormErr() throws {
        var q = query("acme.io", type: 15)
        q[5] = 2  // two questions
        XCTAssertEqual(try XCTUnwrap(udp(port, q)).rcode, 1)
    }

    func testStatsCountQueriesPerType() throws {
        _ = try XCTUnwrap(udp(port, query("acme.io", type: 28)))
        let requests = Self.stats.snapshot()["requests"] as? [String: Int] ?? [:]
        XCTAssertGreaterThanOrEqual(requests["dns AAAA"] ?? 0, 1)
    }
}

extension DNSServerTests {
    func testNegativeAnswersCarrySOAWhenAsked() throws {
        let server = DNSServer(zone: Self.zone, negativeSOA: true)
        let port = try server.start()
        defer { server.stop() }
        let nx = try XCTUnwrap(udp(port, query("gone.io", type: 15)))
        XCTAssertEqual(nx.rcode, 3)
        XCTAssertEqual(nx.u16(8), 1)  // NSCOUNT
        let nodata = try XCTUnwrap(udp(port, query("aonly.io", type: 15)))
        XCTAssertEqual(nodata.u16(8), 1)
        let normal = try XCTUnwrap(udp(port, query("acme.io", type: 15)))
        XCTAssertEqual(normal.u16(8), 0)
        XCTAssertEqual(try XCTUnwrap(udp(Self.port, query("gone.io", type: 15))).u16(8), 0)
    }
}
