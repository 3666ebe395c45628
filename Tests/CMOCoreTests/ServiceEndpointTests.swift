import Foundation
import XCTest

@testable import CMOBasics
@testable import CMOHTTP
@testable import CMOGitHub
@testable import CMOScoring
@testable import CMOWriters

/// One way to reach every service: base URL (config → environment → default, no trailing slash),
/// the key from the environment only, the vendor's auth form and headers, and its rate-limit policy.
final class ServiceEndpointTests: XCTestCase {
    private func settings(_ env: [String: String], config yaml: String? = nil) throws -> Settings {
        var path: String?
        if let yaml {
            let p = NSTemporaryDirectory() + "cmo-service-\(UUID().uuidString).yaml"
            try yaml.write(toFile: p, atomically: true, encoding: .utf8)
            addTeardownBlock { try? FileManager.default.removeItem(atPath: p) }
            path = p
        }
        return try Settings(stage: "send-instantly", configPath: path, environment: env)
    }

    private func configFailure(_ body: () throws -> Any) -> StageFailure? {
        do {
            _ = try body()
            return nil
        } catch {
            return error as? StageFailure
        }
    }

    func testDefaultsPerVendor() throws {
        let env = [
            "GITHUB_TOKEN": "g", "INSTANTLY_API_KEY": "i", "ATTIO_API_KEY": "a", "LINEAR_API_KEY": "l", "OPENAI_API_KEY": "o",
        ]
        let expected: [ServiceKind: String] = [
            .github: "https://api.github.com", .instantly: "https://api.instantly.ai", .attio: "https://api.attio.com",
            .linear: "https://api.linear.app", .openai: "https://api.openai.com/v1",
        ]
        for kind in ServiceKind.allCases {
            let e = try ServiceEndpoint.resolve(kind, settings: try settings(env))
            XCTAssertEqual(e.kind, kind)
            XCTAssertEqual(e.baseURL, expected[kind], "\(kind)")
            XCTAssertEqual(e.rateLimits.name, kind.rawValue)
        }
        let linear = try ServiceEndpoint.resolve(.linear, settings: try settings(env))
        XCTAssertEqual(linear.graphQLURL, "https://api.linear.app/graphql")
        XCTAssertEqual(linear.url("/graphql"), "https://api.linear.app/graphql")
    }

    func testBaseURLFromEnvironmentOrConfigWithoutTrailingSlash() throws {
        let env = ["INSTANTLY_API_KEY": "k", "INSTANTLY_API_URL": "http://127.0.0.1:9000//", "ATTIO_API_KEY": "k"]
        let s = try settings(env, config: "attio-api-url: http://127.0.0.1:9001/\ninstantly-api-url: http://127.0.0.1:9002\n")
        XCTAssertEqual(try ServiceEndpoint.resolve(.instantly, settings: s).baseURL, "http://127.0.0.1:9002", "config wins over env")
        XCTAssertEqual(try ServiceEndpoint.resolve(.attio, settings: s).baseURL, "http://127.0.0.1:9001")
        let e = try ServiceEndpoint.resolve(.instantly, settings: try settings(env))
        XCTAssertEqual(e.baseURL, "http://127.0.0.1:9000")
        XCTAssertEqual(
            e.url("/api/v2/accounts", query: [("limit", "100"), ("search", "a b&c=d/é")]),
            "http://127.0.0.1:9000/api/v2/accounts?limit=100&search=a%20b%26c%3Dd%2F%C3%A9")
        XCTAssertEqual(e.url("https://elsewhere.example/next?page=2"), "https://elsewhere.example/next?page=2", "a URL stays as it is")
    }

    func testAMissingKeyNamesTheVariable() throws {
        let empty = try settings([:])
        XCTAssertEqual(
            configFailure { try ServiceEndpoint.resolve(.github, settings: empty) }?.message,
            "GITHUB_TOKEN is not set: export a GitHub token (public read access is enough)")
        XCTAssertEqual(
            configFailure { try ServiceEndpoint.resolve(.openai, settings: empty) }?.message,
            "OPENAI_API_KEY is not set: export an API key for --llm (or point OPENAI_BASE_URL at a local server)")
        for kind in [ServiceKind.instantly, .attio, .linear] {
            let failure = configFailure { try ServiceEndpoint.resolve(kind, settings: empty) }
            XCTAssertEqual(failure?.exitStatus, .config)
            XCTAssertTrue(failure?.message.hasPrefix("\(kind.keyVariable) is not set") ?? false, "\(String(describing: failure))")
        }
        XCTAssertEqual(try settings(["INSTANTLY_API_KEY": ""]).secret("INSTANTLY_API_KEY"), nil, "an empty variable is not a key")
        // Not required: no Authorization header at all.
        let keyless = try ServiceEndpoint.resolve(.attio, settings: empty, requireKey: false)
        XCTAssertFalse(keyless.hasKey)
        XCTAssertNil(keyless.request("GET", "/v2/self").header("Authorization"))
    }

    func testOpenAIKeyIsOptionalForOtherHosts() throws {
        let local = try ServiceEndpoint.resolve(.openai, settings: try settings(["OPENAI_BASE_URL": "http://127.0.0.1:11434/v1/"]))
        XCTAssertEqual(local.baseURL, "http://127.0.0.1:11434/v1")
        XCTAssertNil(local.request("POST", "/chat/completions", body: [1]).header("Authorization"))
    }

    func testAuthFormsAndHeaders() throws {
        let env = [
            "GITHUB_TOKEN": "ghp_t", "INSTANTLY_API_KEY": "ik", "ATTIO_API_KEY": "ak", "LINEAR_API_KEY": "lin_api_k",
            "OPENAI_API_KEY": "sk",
        ]
        let s = try settings(env)
        let github = try ServiceEndpoint.resolve(.github, settings: s).request("GET", "/users/x")
        XCTAssertEqual(github.header("Authorization"), "Bearer ghp_t")
        XCTAssertEqual(github.header("Accept"), "application/vnd.github+json")
        XCTAssertEqual(github.header("X-GitHub-Api-Version"), "2022-11-28")
        XCTAssertNil(github.header("Content-Type"))
        XCTAssertNil(github.bucket, "GitHub's callers name its buckets")
        XCTAssertEqual(github.url, "https://api.github.com/users/x")
        XCTAssertTrue(github.retryable)

        let linear = try ServiceEndpoint.resolve(.linear, settings: s).request("POST", "/graphql", body: Array("{}".utf8))
        XCTAssertEqual(linear.header("Authorization"), "lin_api_k", "Linear's personal key goes without Bearer")
        XCTAssertEqual(linear.header("Content-Type"), "application/json")
        XCTAssertEqual(linear.header("Accept"), "application/json")
        XCTAssertEqual(linear.bucket, "linear")
        XCTAssertFalse(linear.retryable, "a POST is a write unless the caller says otherwise")

        for (kind, key) in [(ServiceKind.instantly, "ik"), (.attio, "ak"), (.openai, "sk")] {
            let r = try ServiceEndpoint.resolve(kind, settings: s).request("POST", "/x", body: [1], retryable: true)
            XCTAssertEqual(r.header("Authorization"), "Bearer \(key)")
            XCTAssertEqual(r.header("Content-Type"), "application/json")
            XCTAssertEqual(r.bucket, kind.rawValue)
            XCTAssertTrue(r.retryable)
            XCTAssertEqual(r.rateLimits?.name, kind.rawValue, "the request carries the vendor's dialect")
        }
    }

    func testGitHubEnterpriseGraphQLAndTheViews() throws {
        let s = try settings(["GITHUB_TOKEN": "t", "GITHUB_API_URL": "https://ghe.example/api/v3/"])
        let gh = try GitHubEndpoint.resolve(s)
        XCTAssertEqual(gh.restBase, "https://ghe.example/api/v3")
        XCTAssertEqual(gh.graphQLURL, "https://ghe.example/api/graphql")
        XCTAssertEqual(gh.service.kind, .github)
        let entries = s.entries.map(\.key)
        XCTAssertEqual(entries, ["GITHUB_TOKEN", "github-api-url"], "print-config shows what it did before")
    }

    func testPacingRatesAreOverridable() throws {
        let s = try settings(
            ["INSTANTLY_API_KEY": "k", "CMO_INSTANTLY_REQUESTS_PER_MINUTE": "600", "ATTIO_API_KEY": "k"],
            config: "instantly-requests-per-second: 20\nattio-writes-per-second: 5\n")
        let instantly = try XCTUnwrap(try ServiceEndpoint.resolve(.instantly, settings: s).rateLimits as? InstantlyRateLimits)
        XCTAssertEqual(instantly.requestsPerSecond, 20)
        XCTAssertEqual(instantly.requestsPerMinute, 600)
        let attio = try XCTUnwrap(try ServiceEndpoint.resolve(.attio, settings: s).rateLimits as? AttioRateLimits)
        XCTAssertEqual(attio.writesPerSecond, 5)
        XCTAssertEqual(attio.readsPerSecond, 100)
        XCTAssertEqual(ServicePacing.variable("attio-reads-per-second"), "CMO_ATTIO_READS_PER_SECOND")

        let bad = try settings(["INSTANTLY_API_KEY": "k", "CMO_INSTANTLY_REQUESTS_PER_SECOND": "0"])
        let failure = configFailure { try ServiceEndpoint.resolve(.instantly, settings: bad) }
        XCTAssertEqual(failure?.exitStatus, .config)
        XCTAssertTrue(failure?.message.contains("CMO_INSTANTLY_REQUESTS_PER_SECOND") ?? false, "\(String(describing: failure))")
    }

    func testEndpointsBuiltFromPartsUseTheVendorsPolicy() {
        let e = ServiceEndpoint(kind: .attio, baseURL: "http://127.0.0.1:1/", key: "k")
        XCTAssertEqual(e.baseURL, "http://127.0.0.1:1")
        XCTAssertTrue(e.rateLimits is AttioRateLimits)
        let custom = ServiceEndpoint(kind: .instantly, baseURL: "http://h", key: nil, rateLimits: InstantlyRateLimits(requestsPerSecond: 1))
        XCTAssertEqual((custom.rateLimits as? InstantlyRateLimits)?.requestsPerSecond, 1)
    }
}
