import XCTest

@testable import CMOBasics
@testable import CMOEmail

final class EmailRulesTests: XCTestCase {
    func flags(_ s: String) -> EmailFlags { EmailFlags(try! EmailAddress.parse(s).get()) }

    func testFlags() {
        XCTAssertTrue(flags("Info@acme.com").role)
        XCTAssertTrue(flags("sales+eu@acme.com").role)
        XCTAssertFalse(flags("ada@acme.com").role)
        XCTAssertTrue(flags("x@mailinator.com").disposable)
        XCTAssertTrue(flags("x@sub.mailinator.com").disposable)
        XCTAssertFalse(flags("x@acme.com").disposable)
        XCTAssertTrue(flags("x@gmail.com").free)
        XCTAssertTrue(flags("x@yahoo.co.uk").free)
        XCTAssertTrue(flags("x@hotmail.fr").free)
        XCTAssertFalse(flags("x@acme.com").free)
        XCTAssertTrue(flags("123+ada@users.noreply.github.com").noreply)
        XCTAssertTrue(flags("no-reply@acme.com").noreply)
        XCTAssertTrue(flags("do_not_reply@acme.com").noreply)
        XCTAssertFalse(flags("noah@acme.com").noreply)
        XCTAssertGreaterThan(DisposableDomains.set.count, 10000)
    }

    /// Role addresses by their local part's shape, not only an exact list (issue 26: `support547@` went out).
    func testRoleAddressesByShape() {
        for role in [
            "support547@acme.com", "noreply-ci@acme.com", "info.team@acme.com", "admin2@acme.com", "sales-eu@acme.com",
            "no-reply+x@acme.com", "eu-sales@acme.com", "acme_support@acme.com", "Support-Team@acme.com", "dev42@acme.com",
            "team7@acme.com", "webmaster.de@acme.com", "do-not-reply.build@acme.com", "contact_us@acme.com",
        ] {
            XCTAssertTrue(flags(role).role, role)
        }
        for person in [
            "ada@acme.com", "dev.alex@acme.com", "alex.team@acme.com", "salesforce@acme.com", "infosec-ada@acme.com", "supporter@acme.com",
            "admina@acme.com", "ada.lovelace@acme.com", "it.chen@acme.com", "hello.ada@acme.com", "ada547@acme.com", "anna-info2x@acme.com",
        ] {
            XCTAssertFalse(flags(person).role, person)
        }
    }

    func judge(_ address: String, _ host: MailHostOutcome) -> EmailCheck {
        let a = try! EmailAddress.parse(address).get()
        return EmailCheck.judge(address: address, parsed: a, flags: EmailFlags(a), host: host)
    }

    func testVerdicts() {
        XCTAssertEqual(judge("ada@acme.com", .mx(["mx1.acme.com"])).verdict, .safe)
        XCTAssertEqual(judge("ada@acme.com", .implicitMX("acme.com")).verdict, .safe)
        XCTAssertEqual(judge("ada@acme.com", .implicitMX("acme.com")).reasons, ["implicit_mx"])
        XCTAssertEqual(judge("ada@acme.com", .nullMX).verdict, .invalid)
        XCTAssertEqual(judge("ada@acme.com", .nxdomain).verdict, .invalid)
        XCTAssertEqual(judge("ada@acme.com", .noMailHost).verdict, .invalid)
        XCTAssertEqual(judge("ada@acme.com", .unknown("servfail")).verdict, .unknown)
        XCTAssertEqual(judge("ada@acme.com", .unknown("timeout")).reasons, ["dns_timeout"])
        XCTAssertEqual(judge("ada@acme.com", .mxHostsUnresolvable(["mx.acme.com"])).verdict, .risky)
        XCTAssertEqual(judge("info@acme.com", .mx(["m"])).verdict, .risky)
        XCTAssertEqual(judge("x@mailinator.com", .mx(["m"])).verdict, .risky)
        XCTAssertEqual(judge("x@gmail.com", .mx(["m"])).verdict, .safe)
        XCTAssertEqual(judge("1+a@users.noreply.github.com", .mx(["m"])).verdict, .invalid)
        XCTAssertEqual(judge("info@acme.com", .unknown("timeout")).verdict, .unknown)
    }

    func candidate(_ a: String, _ v: EmailVerdict, _ source: String?, _ seen: String?, free: Bool = false) -> EmailCandidate {
        EmailCandidate(
            check: EmailCheck(address: a, verdict: v, reasons: [], flags: EmailFlags(free: free), mx: []), source: source, lastSeen: seen)
    }

    func testBestEmailPreference() {
        let p = BestEmailPolicy()
        XCTAssertEqual(p.choose([candidate("a", .risky, "profile", nil), candidate("b", .safe, "commit", nil)])?.check.address, "b")
        XCTAssertEqual(p.choose([candidate("a", .safe, "commit", nil), candidate("b", .safe, "profile", nil)])?.check.address, "b")
        XCTAssertEqual(
            p.choose([candidate("a", .safe, "commit", "2026-01-01", free: true), candidate("b", .safe, "commit", "2025-01-01")])?.check
                .address, "b")
        XCTAssertEqual(
            p.choose([candidate("a", .safe, "commit", "2025-01-01"), candidate("b", .safe, "commit", "2026-01-01")])?.check.address, "b")
        XCTAssertEqual(p.choose([candidate("a", .unknown, nil, nil), candidate("b", .invalid, "profile", nil)])?.check.address, "a")
        XCTAssertNil(p.choose([candidate("a", .invalid, nil, nil)]))
        XCTAssertEqual(
            BestEmailPolicy(sourceOrder: ["commit", "profile"]).choose([
                candidate("a", .safe, "profile", nil), candidate("b", .safe, "commit", nil),
            ])?
            .check.address, "b")
    }
}
