import Foundation
import XCTest

@testable import CMOBasics
@testable import CMODNS

/// The persistent DNS cache: what is kept and for how long, expiry, keys, round trips, two handles on one file.
final class DNSCacheTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "cmo-dnscache-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func cache() throws -> DNSCache { try DNSCache(path: dir + "/dns.sqlite") }

    func testLifetimes() throws {
        let c = try cache()
        XCTAssertEqual(c.lifetime(.answer([.address("192.0.2.1")], ttl: 300)), 300)
        XCTAssertEqual(c.lifetime(.answer([.address("192.0.2.1")], ttl: 999_999)), 86_400, "capped at a day")
        XCTAssertNil(c.lifetime(.answer([.address("192.0.2.1")], ttl: 0)), "TTL 0 means do not cache")
        XCTAssertEqual(c.lifetime(.nxdomain(ttl: 60)), 60)
        XCTAssertEqual(c.lifetime(.noData(ttl: 86_400)), 10_800, "negative answers at most 3 hours")
        XCTAssertNil(c.lifetime(.nxdomain(ttl: nil)), "no SOA, no negative caching (RFC 2308 §5)")
        XCTAssertNil(c.lifetime(.noData(ttl: nil)))
        for r in [DNSResult.servfail, .refused, .timeout, .error("x")] { XCTAssertNil(c.lifetime(r), "\(r)") }
    }

    func testStoresFreshAnswersAndForgetsThemWhenTheyExpire() throws {
        let c = try cache()
        let mx = DNSQuery("Acme.IO.", .mx)
        let a = DNSQuery("mail.acme.io", .a)
        let gone = DNSQuery("gone.io", .mx)
        let failing = DNSQuery("broken.io", .mx)
        let now = 1_000_000.0
        let stored = try c.store(
            [
                (mx, .answer([.mx(preference: 10, exchange: "mail.acme.io"), .mx(preference: 0, exchange: "")], ttl: 300)),
                (a, .answer([.address("192.0.2.1"), .address("2001:db8::1")], ttl: 60)), (gone, .nxdomain(ttl: 120)),
                (failing, .servfail),
            ], now: now)
        XCTAssertEqual(stored, 3)
        let all = [mx, a, gone, failing, DNSQuery("acme.io", .a)]
        let fresh = try c.fresh(all, now: now + 59)
        XCTAssertEqual(fresh[mx], .answer([.mx(preference: 10, exchange: "mail.acme.io"), .mx(preference: 0, exchange: "")], ttl: 300))
        XCTAssertEqual(fresh[a], .answer([.address("192.0.2.1"), .address("2001:db8::1")], ttl: 60))
        XCTAssertEqual(fresh[gone], .nxdomain(ttl: 120))
        XCTAssertNil(fresh[failing])
        XCTAssertNil(fresh[DNSQuery("acme.io", .a)], "another type of a cached name is not an answer")
        XCTAssertEqual(
            try c.fresh([DNSQuery("acme.io", .mx)], now: now)[DNSQuery("acme.io", .mx)] != nil, true, "case and dot do not matter")
        let later = try c.fresh(all, now: now + 61)
        XCTAssertEqual(Set(later.keys), [mx, gone], "the A record expired after 60 s")
        XCTAssertTrue(try c.fresh(all, now: now + 301).isEmpty)
    }

    func testTwoHandlesShareTheFile() throws {
        let writer = try cache()
        let reader = try cache()
        let q = DNSQuery("acme.io", .mx)
        try writer.store([(q, .noData(ttl: 30))])
        XCTAssertEqual(try reader.fresh([q])[q], .noData(ttl: 30))
        try writer.store([(q, .answer([.mx(preference: 5, exchange: "mx.acme.io")], ttl: 30))])
        XCTAssertEqual(try reader.fresh([q])[q], .answer([.mx(preference: 5, exchange: "mx.acme.io")], ttl: 30), "replaced")
    }

    func testEncodingRoundTripsAndRejectsGarbage() {
        let results: [DNSResult] = [
            .answer([.mx(preference: 0, exchange: "")], ttl: 1), .answer([.address("10.0.0.1")], ttl: UInt32.max),
            .answer([.mx(preference: 65535, exchange: "a.b.c")], ttl: 5), .noData(ttl: 7), .nxdomain(ttl: 0),
        ]
        for r in results { XCTAssertEqual(DNSCache.decode(DNSCache.encode(r)!), r) }
        XCTAssertNil(DNSCache.encode(.noData(ttl: nil)))
        for garbage in ["", "a", "x 5", "a 5\tz", "d 5\tm1 x", "a -1", "a 5\tmx y"] { XCTAssertNil(DNSCache.decode(garbage), garbage) }
    }
}
