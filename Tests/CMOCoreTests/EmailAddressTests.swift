import XCTest

@testable import CMOBasics
@testable import CMOServices
@testable import CMOEmail

final class EmailAddressTests: XCTestCase {
    func ok(_ s: String) -> EmailAddress? { try? EmailAddress.parse(s).get() }
    func problem(_ s: String) -> EmailAddress.Problem? {
        if case .failure(let p) = EmailAddress.parse(s) { return p } else { return nil }
    }

    func testValidAddressesAreNormalised() {
        XCTAssertEqual(ok("Ada.Lovelace+tag@Example.COM.")?.normalized, "Ada.Lovelace+tag@example.com")
        XCTAssertEqual(ok(" <x@a.io> ")?.normalized, "x@a.io")
        XCTAssertEqual(ok("\"john doe\"@example.org")?.local, "\"john doe\"")
        XCTAssertEqual(ok("\"a\\\"b\"@example.org")?.domain, "example.org")
        XCTAssertEqual(ok("o'brien!#$%&*=?^_`{|}~@sub.example.co.uk")?.domain, "sub.example.co.uk")
    }

    func testSyntaxProblems() {
        XCTAssertEqual(problem(""), .empty)
        XCTAssertEqual(problem("plainaddress"), .noAt)
        XCTAssertEqual(problem("@example.com"), .badLocal)
        XCTAssertEqual(problem(".a@example.com"), .badLocal)
        XCTAssertEqual(problem("a.@example.com"), .badLocal)
        XCTAssertEqual(problem("a..b@example.com"), .badLocal)
        XCTAssertEqual(problem("a b@example.com"), .badLocal)
        XCTAssertEqual(problem("\"unclosed@example.com"), .badLocal)
        XCTAssertEqual(problem(String(repeating: "a", count: 65) + "@example.com"), .localTooLong)
        XCTAssertNotNil(ok(String(repeating: "a", count: 64) + "@example.com"))
        let longDomain = (0..<4).map { _ in String(repeating: "d", count: 60) }.joined(separator: ".") + ".com"
        XCTAssertEqual(problem(String(repeating: "a", count: 10) + "@" + longDomain), .tooLong)
        XCTAssertEqual(problem("a@localhost"), .badDomain)
        XCTAssertEqual(problem("a@-bad.com"), .badDomain)
        XCTAssertEqual(problem("a@bad-.com"), .badDomain)
        XCTAssertEqual(problem("a@ex..com"), .badDomain)
        XCTAssertEqual(problem("a@ex_ample.com"), .badDomain)
        XCTAssertEqual(problem("a@1.2.3.4"), .badDomain)
        XCTAssertEqual(problem("a@[192.0.2.1]"), .ipLiteral)
        XCTAssertEqual(problem("a@" + String(repeating: "x", count: 64) + ".com"), .badDomain)
    }

    func testInternationalDomainsBecomePunycode() {
        XCTAssertEqual(ok("hans@Bücher.example")?.domain, "xn--bcher-kva.example")
        XCTAssertEqual(ok("user@münchen.de")?.domain, "xn--mnchen-3ya.de")
    }
}
