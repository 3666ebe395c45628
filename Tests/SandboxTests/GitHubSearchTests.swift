import Foundation
import XCTest

/// `GET /search/repositories` against apis.md §1.2 and §1.7.
final class GitHubSearchTests: XCTestCase {
    nonisolated(unsafe) static var sandbox: SandboxProcess?
    var sbx: SandboxProcess { Self.sandbox! }

    override class func setUp() {
        sandbox = try? SandboxProcess(["--seed", "42", "--repos", "1500", "--users", "300", "--search-limit", "1000"])
    }
    override class func tearDown() { sandbox?.stop() }
    override func setUpWithError() throws { if Self.sandbox == nil { throw SandboxTestError("sandbox failed to start") } }

    func items(_ q: String, _ extra: String = "") throws -> (total: Int, items: [[String: Any]], response: TestHTTP.Response) {
        let enc = q.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        let r = try sbx.gh("/search/repositories?q=\(enc)\(extra)")
        XCTAssertEqual(r.status, 200, r.text)
        let o = try r.object()
        XCTAssertEqual(o["incomplete_results"] as? Bool, false)
        return (o["total_count"] as! Int, o["items"] as! [[String: Any]], r)
    }

    func testQualifiersFilter() throws {
        let go = try items("language:go", "&per_page=100")
        XCTAssertGreaterThan(go.total, 0)
        XCTAssertTrue(go.items.allSatisfy { $0["language"] as? String == "Go" })
        XCTAssertTrue(go.items.allSatisfy { $0["fork"] as? Bool == false }, "forks are excluded by default")

        let ranged = try items("stars:10..50", "&per_page=100")
        XCTAssertTrue(ranged.items.allSatisfy { (10...50).contains($0["stargazers_count"] as! Int) })
        let gt = try items("stars:>100", "&per_page=100")
        XCTAssertTrue(gt.items.allSatisfy { ($0["stargazers_count"] as! Int) > 100 })
        let ge = try items("stars:>=100", "&per_page=100")
        XCTAssertGreaterThanOrEqual(ge.total, gt.total)
        let le = try items("stars:<=5", "&per_page=100")
        XCTAssertTrue(le.items.allSatisfy { ($0["stargazers_count"] as! Int) <= 5 })
        let open = try items("stars:100..*", "&per_page=100")
        XCTAssertEqual(open.total, ge.total)

        let pushed = try items("pushed:>2026-10-01", "&per_page=100")
        XCTAssertTrue(pushed.items.allSatisfy { ($0["pushed_at"] as! String) >= "2026-10-02" })
        let created = try items("created:2020-01-01..2021-12-31", "&per_page=100")
        XCTAssertTrue(
            created.items.allSatisfy { ($0["created_at"] as! String) >= "2020-01-01" && ($0["created_at"] as! String) < "2022-01-01" })

        let forks = try items("fork:only", "&per_page=100")
        XCTAssertGreaterThan(forks.total, 0)
        XCTAssertTrue(forks.items.allSatisfy { $0["fork"] as? Bool == true })
        let withForks = try items("stars:>=0 fork:true")
        let withoutForks = try items("stars:>=0")
        XCTAssertEqual(withForks.total, withoutForks.total + forks.total)

        let archived = try items("archived:true", "&per_page=100")
        XCTAssertTrue(archived.items.allSatisfy { $0["archived"] as? Bool == true })
        let topic = try items("topic:cli", "&per_page=100")
        XCTAssertGreaterThan(topic.total, 0)
        XCTAssertTrue(topic.items.allSatisfy { ($0["topics"] as! [String]).contains("cli") })

        let owner = (go.items[0]["owner"] as! [String: Any])["login"] as! String
        let byUser = try items("user:\(owner)", "&per_page=100")
        XCTAssertTrue(byUser.items.allSatisfy { (($0["owner"] as! [String: Any])["login"] as! String) == owner })
        let inName = try items("cli in:name", "&per_page=100")
        XCTAssertTrue(inName.items.allSatisfy { ($0["name"] as! String).lowercased().contains("cli") })
    }

    func testSortOrderAndPerPageCap() throws {
        let desc = try items("stars:>=0", "&sort=stars&per_page=100")
        let stars = desc.items.map { $0["stargazers_count"] as! Int }
        XCTAssertEqual(stars, stars.sorted(by: >))
        XCTAssertEqual(desc.items.count, 100)
        let asc = try items("stars:>=0", "&sort=stars&order=asc&per_page=100")
        let ascStars = asc.items.map { $0["stargazers_count"] as! Int }
        XCTAssertEqual(ascStars, ascStars.sorted())
        let capped = try items("stars:>=0", "&per_page=500")
        XCTAssertEqual(capped.items.count, 100, "per_page is at most 100")
        let defaultPage = try items("stars:>=0")
        XCTAssertEqual(defaultPage.items.count, 30)
        // `order` is ignored without `sort`.
        XCTAssertEqual(try items("stars:>=0", "&order=asc").response.body, defaultPage.response.body)
    }

    func testLinkHeaderAndThousandResultCap() throws {
        let first = try items("stars:>=0", "&per_page=100")
        XCTAssertGreaterThan(first.total, 1000)
        let host = URL(string: sbx.base)!.host! + ":" + String(URL(string: sbx.base)!.port!)
        let link = try XCTUnwrap(first.response.headers["link"])
        XCTAssertEqual(
            link,
            "<http://\(host)/github/search/repositories?q=stars%3A%3E%3D0&per_page=100&page=2>; rel=\"next\", "
                + "<http://\(host)/github/search/repositories?q=stars%3A%3E%3D0&per_page=100&page=10>; rel=\"last\"")
        let middle = try items("stars:>=0", "&per_page=100&page=5").response.headers["link"]!
        XCTAssertTrue(middle.hasPrefix("<http://\(host)/github/search/repositories?q=stars%3A%3E%3D0&per_page=100&page=4>; rel=\"prev\", "))
        XCTAssertTrue(middle.hasSuffix("page=1>; rel=\"first\""))
        let last = try items("stars:>=0", "&per_page=100&page=10")
        XCTAssertEqual(last.items.count, 100)
        XCTAssertFalse(last.response.headers["link"]!.contains("rel=\"next\""))

        let past = try sbx.gh("/search/repositories?q=stars:>=0&per_page=100&page=11")
        XCTAssertEqual(past.status, 422)
        XCTAssertEqual(try past.object()["message"] as? String, "Only the first 1000 search results are available")

        let missing = try sbx.gh("/search/repositories")
        XCTAssertEqual(missing.status, 422)
        XCTAssertEqual(try missing.object()["message"] as? String, "Validation Failed")
        let bad = try sbx.gh("/search/repositories?q=stars:lots")
        XCTAssertEqual(bad.status, 422)
    }
}
