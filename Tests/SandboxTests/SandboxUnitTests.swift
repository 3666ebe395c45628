import Foundation
import XCTest

@testable import CMOSandbox

/// Unit tests of the pieces the black-box tests lean on.
final class SandboxUnitTests: XCTestCase {
    func testWorldTimeParsesGitHubForms() {
        XCTAssertEqual(WorldTime.parse("2026-11-20"), WorldTime.defaultNow)
        XCTAssertEqual(WorldTime.parse("2026-11-20T00:00:00Z"), WorldTime.defaultNow)
        XCTAssertEqual(WorldTime.parse("2026-11-20T01:00:00+01:00"), WorldTime.defaultNow)
        XCTAssertEqual(WorldTime.parse("2026-11-20T00:00:00.123Z"), WorldTime.defaultNow)
        XCTAssertEqual(WorldTime.parse("2026-11-20T00:00Z"), WorldTime.defaultNow)
        XCTAssertNil(WorldTime.parse("2026-13-01"))
        XCTAssertNil(WorldTime.parse("yesterday"))
        XCTAssertEqual(WorldTime.format(WorldTime.defaultNow), "2026-11-20T00:00:00Z")
        XCTAssertEqual(WorldTime.format(951_782_400), "2000-02-29T00:00:00Z")
    }

    func testSearchRanges() throws {
        let day: Int64 = 86400
        let d = WorldTime.parse("2025-01-01")!
        let gt = try XCTUnwrap(GitHubSearchQuery.range(">2025-01-01", parse: WorldTime.parse, nextUnit: day))
        XCTAssertFalse(gt.contains(d + day - 1))
        XCTAssertTrue(gt.contains(d + day))
        let le = try XCTUnwrap(GitHubSearchQuery.range("<=2025-01-01", parse: WorldTime.parse, nextUnit: day))
        XCTAssertTrue(le.contains(d + day - 1))
        XCTAssertFalse(le.contains(d + day))
        let stars = try XCTUnwrap(GitHubSearchQuery.range("10..*", parse: { Int64($0) }, nextUnit: 1))
        XCTAssertTrue(stars.contains(10) && stars.contains(1_000_000) && !stars.contains(9))
        XCTAssertNil(GitHubSearchQuery.range("lots", parse: { Int64($0) }, nextUnit: 1))
        XCTAssertEqual(GitHubSearchQuery.tokenize(#"cli language:"c++" -topic:ios"#), ["cli", #"language:"c++""#, "-topic:ios"])
    }

    func testLinkTargetsKeepTheQueryAsSent() {
        XCTAssertEqual(GitHubPage.target("/github/x?q=a%20b&page=3&per_page=5", page: 4), "/github/x?q=a%20b&page=4&per_page=5")
        XCTAssertEqual(GitHubPage.target("/github/x?q=a+b", page: 2), "/github/x?q=a+b&page=2")
        XCTAssertEqual(GitHubPage.target("/github/x", page: 2), "/github/x?page=2")
    }

    func testNodeIDsRoundTrip() throws {
        let raw = NodeID.encode("04:User583231")
        XCTAssertEqual(raw, "MDQ6VXNlcjU4MzIzMQ==")  // octocat's legacy id
        let decoded = try XCTUnwrap(NodeID.decode(raw))
        XCTAssertEqual(decoded.type, "User")
        XCTAssertEqual(decoded.id, 583231)
    }

    func testFaultPlanIsDeterministicPerService() throws {
        let faults = try ServiceFaults.parse(
            latency: ["github=100±20"], failRate: ["*=0.5"], tooManyRate: [], resetRate: [], truncateRate: [])
        XCTAssertEqual(faults["github"]?.latencyMS, 100)
        XCTAssertEqual(faults["github"]?.jitterMS, 20)
        let a = FaultPlan(seed: 9, faults: faults)
        let b = FaultPlan(seed: 9, faults: faults)
        let runA = (0..<50).map { _ in a.next(for: "attio").0 }
        let runB = (0..<50).map { _ in b.next(for: "attio").0 }
        XCTAssertEqual(runA, runB)
        XCTAssertTrue(runA.contains(.none))
        XCTAssertTrue(runA.contains { if case .serverError = $0 { return true } else { return false } })
        for _ in 0..<20 { XCTAssertTrue((80...120).contains(a.next(for: "github").latencyMS)) }
        XCTAssertThrowsError(try ServiceFaults.parse(latency: ["github"], failRate: [], tooManyRate: [], resetRate: [], truncateRate: []))
        XCTAssertThrowsError(try ServiceFaults.parse(latency: [], failRate: ["github=2"], tooManyRate: [], resetRate: [], truncateRate: []))
    }

    func testWorldIsDeterministicAndHasEveryKindOfIdentity() throws {
        let config = WorldConfig(seed: 77, repoCount: 60, userCount: 80)
        let a = World(config: config)
        let b = World(config: config)
        let ja = try JSONSerialization.data(withJSONObject: a.truth(), options: [.sortedKeys])
        let jb = try JSONSerialization.data(withJSONObject: b.truth(), options: [.sortedKeys])
        XCTAssertEqual(ja, jb)
        XCTAssertTrue(a.users.contains { $0.login == "dependabot[bot]" && $0.type == .bot })
        XCTAssertTrue(a.users.contains { $0.login == "github-actions[bot]" && $0.type == .bot })
        XCTAssertTrue(a.users.contains { $0.type == .organization })
        XCTAssertTrue(a.users.contains { $0.publicEmail != nil } && a.users.contains { $0.type == .user && $0.publicEmail == nil })
        XCTAssertTrue(
            a.users.contains { ($0.bio ?? "").contains("\r\n") || ($0.bio ?? "").contains("{{") || ($0.bio ?? "").hasPrefix("=") })
        let commits = a.repos.flatMap(\.commits)
        XCTAssertTrue(commits.contains { $0.authorID == nil })
        XCTAssertTrue(commits.contains { $0.authorEmail.hasSuffix("@users.noreply.github.com") && $0.authorEmail.contains("+") })
        XCTAssertTrue(a.repos.contains { $0.isFork } && a.repos.contains { $0.archived })
        let kinds = Set(a.zone.domains.values.map { WorldGenerator.dnsFacts($0).0 })
        XCTAssertEqual(kinds, ["mx", "a_only", "null_mx", "nxdomain", "servfail", "timeout", "truncated", "slow"])
        for (domain, behaviour) in a.zone.domains {
            if case .mx(let records) = behaviour {
                for r in records { XCTAssertNotNil(a.zone.hosts[r.exchange], "A record of \(r.exchange) for \(domain)") }
            }
        }
        let other = World(config: WorldConfig(seed: 78, repoCount: 60, userCount: 80))
        XCTAssertNotEqual(other.repos.map(\.fullName), a.repos.map(\.fullName))
    }

    func testTinyAndOddWorldsGenerate() {
        for seed: UInt64 in [0, 1, 2, 3, 42, .max] {
            for (repos, users) in [(0, 1), (1, 1), (3, 2), (12, 5), (60, 3), (5, 60)] {
                let w = World(config: WorldConfig(seed: seed, repoCount: repos, userCount: users))
                XCTAssertEqual(w.repos.count, repos)
                XCTAssertEqual(w.users.filter { $0.type == .user }.count, users + 1, "humans and web-flow")
                for r in w.repos {
                    XCTAssertEqual(r.commits.map(\.date), r.commits.map(\.date).sorted(by: >))
                    XCTAssertLessThanOrEqual(r.pushedAt, w.config.now)
                    XCTAssertLessThanOrEqual(r.createdAt, r.pushedAt)
                    if let newest = r.commits.first { XCTAssertEqual(newest.date, r.pushedAt) }
                }
                _ = w.truth()
            }
        }
    }

    func testSandboxJSONWritesWhatJSONSerializationReads() throws {
        let value: [String: Any] = [
            "b": true, "a": 1, "n": NSNull(), "d": 1.5, "whole": 2.0, "s": "q\"uote\\ /slash\r\n\t\u{1} é 🦀",
            "list": [1, "two", false, ["x": [String]()]] as [Any], "counts": ["z": 1, "y": 2] as [String: Int], "big": Int64(1) << 40,
            "Zebra": "upper sorts before lower",
        ]
        let bytes = SandboxJSON.encode(value)
        let text = String(decoding: bytes, as: UTF8.self)
        XCTAssertTrue(
            text.hasPrefix(#"{"Zebra":"upper sorts before lower","a":1,"b":true,"big":1099511627776,"counts":{"y":2,"z":1},"d":1.5,"#), text
        )
        XCTAssertTrue(text.contains(#""s":"q\"uote\\ /slash\r\n\t\u0001 é 🦀""#), text)
        XCTAssertTrue(text.contains(#""whole":2"#))
        let back = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        XCTAssertEqual(back["s"] as? String, value["s"] as? String)
        XCTAssertEqual((back["list"] as? [Any])?.count, 4)
        XCTAssertTrue(back["n"] is NSNull)
        let parsed = try JSONSerialization.jsonObject(with: Data(#"{"i":1,"t":true}"#.utf8))
        XCTAssertEqual(String(decoding: SandboxJSON.encode(parsed), as: UTF8.self), #"{"i":1,"t":true}"#)
    }
}
