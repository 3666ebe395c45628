import XCTest

@testable import CMOBasics
@testable import CMOEmail
@testable import CMOWriters

/// `Mailbox.check`, the one mailbox-syntax check (mx-check's syntax step and every writer's pre-send
/// check), and the refusal records writers key re-runs on.
final class MailboxSyntaxTests: XCTestCase {
    func problem(_ s: String) -> EmailAddress.Problem? {
        if case .failure(let p) = Mailbox.check(s) { return p } else { return nil }
    }

    func testMailboxesPassAndAreNormalised() {
        XCTAssertEqual(Mailbox.sendable("Ada.Lovelace+tag@Example.COM."), "ada.lovelace+tag@example.com")
        XCTAssertEqual(Mailbox.sendable(" <x@a.io> "), "x@a.io")
        XCTAssertEqual(Mailbox.sendable("o'brien!#$%&*=?^_`{|}~@sub.example.co.uk"), "o'brien!#$%&*=?^_`{|}~@sub.example.co.uk")
        XCTAssertEqual(Mailbox.sendable(String(repeating: "a", count: 64) + "@example.com")?.count, 64 + 12)
        // IDN domains are taken as punycode, as mx-check has always done.
        XCTAssertEqual(Mailbox.sendable("hans@Bücher.example"), "hans@xn--bcher-kva.example")
    }

    func testWhatIsNotAMailbox() {
        XCTAssertEqual(problem("foo bar@example.org"), .badLocal, "a space")
        XCTAssertEqual(problem("foo@exa mple.org"), .badDomain, "a space in the domain")
        XCTAssertEqual(problem("\"john doe\"@example.org"), .quotedLocal, "quoted local parts: legal in RFC 5321, refused by the services")
        XCTAssertEqual(problem("\"john\"@example.org"), .quotedLocal)
        XCTAssertEqual(problem(String(repeating: "a", count: 65) + "@example.com"), .localTooLong)
        let longDomain = (0..<4).map { _ in String(repeating: "d", count: 60) }.joined(separator: ".") + ".com"
        XCTAssertEqual(problem("aaaaaaaaaa@" + longDomain), .tooLong, "over 254 octets")
        XCTAssertEqual(problem("a@ex..com"), .badDomain, "an empty label")
        XCTAssertEqual(problem("a@.example.com"), .badDomain, "a leading dot in the domain")
        XCTAssertEqual(problem(".a@example.com"), .badLocal, "a leading dot")
        XCTAssertEqual(problem("a.@example.com"), .badLocal, "a trailing dot")
        XCTAssertEqual(problem("a..b@example.com"), .badLocal, "consecutive dots")
        XCTAssertEqual(problem("jösé@example.org"), .nonASCIILocal, "SMTPUTF8 local parts are not sent")
        XCTAssertEqual(problem("dev@example.org\r\nBcc: x@evil.example"), .controlCharacter, "CR/LF")
        XCTAssertEqual(problem("dev@example.org\n"), .controlCharacter, "a trailing LF is not trimmed away")
        XCTAssertEqual(problem("de\u{0}v@example.org"), .controlCharacter)
        XCTAssertEqual(problem("a@b@example.org"), .badLocal, "two @")
        XCTAssertEqual(problem("a@localhost"), .badDomain)
        XCTAssertEqual(problem("a@[192.0.2.1]"), .ipLiteral)
        XCTAssertEqual(problem(""), .empty)
        XCTAssertEqual(problem("plain"), .noAt)
        XCTAssertNil(Mailbox.sendable("foo bar@example.org"))
    }

    /// The parser mx-check used before stays as it was for what it is also used for (suppression
    /// entries): a quoted local part parses there; only `Mailbox.check` narrows it.
    func testTheGeneralParserIsUnchanged() {
        XCTAssertNotNil(try? EmailAddress.parse("\"john doe\"@example.org").get())
        XCTAssertNil(try? Mailbox.check("\"john doe\"@example.org").get())
    }

    func testRefusalReasonsRoundTripAndKeyOnThePayload() {
        let payload: JSONValue = .object([JSONMember("email", "a@example.org"), JSONMember("first_name", "A")])
        let fp = ContentRefusal.fingerprint(payload)
        XCTAssertEqual(fp.count, 16)
        let reason = ContentRefusal.ledgerReason(code: "rejected", fingerprint: fp, message: "HTTP 400: body/leads/0/x must be: [a] b")
        XCTAssertEqual(
            ContentRefusal.parse(reason),
            ContentRefusal.Recorded(code: "rejected", fingerprint: fp, message: "HTTP 400: body/leads/0/x must be: [a] b"))
        XCTAssertNil(ContentRefusal.parse("HTTP 500: down"))
        XCTAssertNil(ContentRefusal.parse(nil))
        let changed: JSONValue = .object([JSONMember("email", "a@example.org"), JSONMember("first_name", "B")])
        XCTAssertNotEqual(ContentRefusal.fingerprint(changed), fp)
        XCTAssertEqual(
            ContentRefusal.blamedIndex("body/leads/12/lt_interest_status must be equal to one of the allowed values", array: "leads"), 12)
        XCTAssertNil(ContentRefusal.blamedIndex("Bad Request", array: "leads"))
        XCTAssertTrue(ContentRefusal.isContentStatus(400))
        XCTAssertFalse(ContentRefusal.isContentStatus(409))
        XCTAssertFalse(ContentRefusal.isContentStatus(503))
    }
}
