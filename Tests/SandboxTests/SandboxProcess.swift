import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// A running `cmo-sandbox` binary for black-box tests: spawned with its env file, stopped with SIGTERM.
final class SandboxProcess: @unchecked Sendable {
    let process = Process()
    let env: [String: String]
    let stdoutText: String
    let dir: URL

    /// The built `cmo-sandbox` next to the test bundle (the build products directory).
    static func binary() throws -> URL {
        var candidates: [URL] = []
        if let exe = Bundle.main.executableURL { candidates.append(exe.deletingLastPathComponent()) }
        for b in Bundle.allBundles { candidates.append(b.bundleURL.deletingLastPathComponent()) }
        candidates.append(URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent())
        for dir in candidates {
            let url = dir.appendingPathComponent("cmo-sandbox")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        throw XCTSkip("cmo-sandbox is not built next to the test bundle (looked in \(candidates.map(\.path)))")
    }

    /// Starts the sandbox with `arguments` (plus `--port 0 --env-file …`) and waits for its env file.
    init(_ arguments: [String] = []) throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("sbx-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let envFile = dir.appendingPathComponent("sandbox.env")
        process.executableURL = try Self.binary()
        process.arguments = ["--port", "0", "--env-file", envFile.path] + arguments
        process.environment = ["PATH": "/usr/bin:/bin"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        let deadline = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: envFile.path) {
            guard process.isRunning, Date() < deadline else { throw SandboxTestError("sandbox did not start") }
            usleep(10_000)
        }
        let text = try String(contentsOf: envFile, encoding: .utf8)
        env = Self.parseEnv(text)
        var line = Data()
        let reader = out.fileHandleForReading
        while !line.contains(10) {
            let chunk = reader.availableData
            if chunk.isEmpty { break }
            line += chunk
        }
        stdoutText = String(decoding: line, as: UTF8.self)
    }

    /// `export NAME=VALUE` lines into a dictionary.
    static func parseEnv(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("export ") {
            let kv = line.dropFirst(7).split(separator: "=", maxSplits: 1)
            if kv.count == 2 { out[String(kv[0])] = String(kv[1]) }
        }
        return out
    }

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

    /// Sends SIGTERM and returns the exit status.
    @discardableResult
    func stop() -> Int32 {
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            let deadline = Date().addingTimeInterval(10)
            while process.isRunning && Date() < deadline { usleep(5_000) }
            if process.isRunning {  // never hang the suite
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                XCTFail("cmo-sandbox ignored SIGTERM")
                return -1
            }
            XCTAssertEqual(process.terminationStatus, 0, "cmo-sandbox exits 0 on SIGTERM")
        }
        try? FileManager.default.removeItem(at: dir)
        return process.terminationStatus
    }

    deinit { if process.isRunning { stop() } }
}

struct SandboxTestError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
