import CMOTestSupport
import Foundation
import XCTest

/// The sandbox tests' view of a running `cmo-sandbox`: `SandboxLauncher` (shared with the stage
/// tests) plus raw GitHub requests through `TestHTTP`, and a check that SIGTERM stops it cleanly.
final class SandboxProcess: @unchecked Sendable {
    let launcher: SandboxLauncher

    /// Starts the sandbox with `arguments` (plus `--port 0 --env-file …`) and waits for its env file.
    init(_ arguments: [String] = []) throws {
        launcher = try SandboxLauncher(arguments, timeout: 20)
    }

    var env: [String: String] { launcher.environment }
    var stdoutText: String { launcher.firstStdoutLine }
    var base: String { env["CMO_SANDBOX_URL"]! }
    var github: String { env["GITHUB_API_URL"]! }
    var token: String { env["GITHUB_TOKEN"]! }

    /// A GET against GitHub with the sandbox token.
    func gh(_ pathAndQuery: String, headers: [String: String] = [:]) throws -> TestHTTP.Response {
        try TestHTTP.request("GET", github + pathAndQuery, headers: ["Authorization": "Bearer \(token)"].merging(headers) { $1 })
    }

    /// A GraphQL query against GitHub.
    func graphQL(_ query: String, variables: [String: Any] = [:]) throws -> TestHTTP.Response {
        let body = try JSONSerialization.data(withJSONObject: ["query": query, "variables": variables])
        return try TestHTTP.request("POST", github + "/graphql", headers: ["Authorization": "Bearer \(token)"], body: Array(body))
    }

    /// `GET /_sandbox/stats` as JSON.
    func stats() throws -> [String: Any] { try TestHTTP.request("GET", base + "/_sandbox/stats").object() }

    /// Sends SIGTERM and returns the exit status, which must be 0.
    @discardableResult
    func stop() -> Int32 {
        let wasRunning = launcher.process.isRunning
        let status = launcher.stop()
        if wasRunning {
            XCTAssertNotEqual(status, -1, "cmo-sandbox ignored SIGTERM")
            XCTAssertEqual(status, 0, "cmo-sandbox exits 0 on SIGTERM")
        }
        return status
    }
}

struct SandboxTestError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
