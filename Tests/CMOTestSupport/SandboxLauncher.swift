import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A running `cmo-sandbox` for any stage's black-box tests: the built binary on a free loopback port
/// with the given flags, its env file parsed, `/_sandbox/stats` and `/_sandbox/truth` at hand.
///
///     let sandbox = try SandboxLauncher(["--repos", "300", "--users", "400"])
///     defer { sandbox.stop() }
///     let r = try Spawn.run("gh-search", ["--language", "go"], environment: sandbox.githubEnvironment)
///     XCTAssertEqual(try sandbox.violations(), 0)
public final class SandboxLauncher: @unchecked Sendable {
    public let process = Process()
    /// Every variable of the env file (base URLs, tokens, CMO_DNS_SERVER).
    public let environment: [String: String]
    public let directory: String
    /// What the sandbox printed on stdout first (`listening on http://127.0.0.1:PORT`).
    public private(set) var firstStdoutLine = ""

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Starts the sandbox with `arguments` (plus `--port 0 --env-file …`) and waits until it serves.
    public init(_ arguments: [String] = [], timeout: Double = 60) throws {
        directory = Spawn.tempDirectory()
        let envFile = directory + "/sandbox.env"
        process.executableURL = URL(fileURLWithPath: Spawn.executable("cmo-sandbox"))
        process.arguments = ["--port", "0", "--env-file", envFile] + arguments
        process.environment = ["PATH": "/usr/bin:/bin"]
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        Self.track(process.processIdentifier)
        let deadline = Date().addingTimeInterval(timeout)
        while !FileManager.default.fileExists(atPath: envFile) {
            guard process.isRunning, Date() < deadline else {
                if process.isRunning { kill(process.processIdentifier, SIGKILL) }
                throw Failure(description: "cmo-sandbox did not start (arguments \(arguments))")
            }
            usleep(10_000)
        }
        environment = Self.parseEnv((try? String(contentsOfFile: envFile, encoding: .utf8)) ?? "")
        // The first line, then the rest is drained in the background so the sandbox never blocks on a full pipe.
        var line = Data()
        let reader = stdout.fileHandleForReading
        while !line.contains(10) {
            let chunk = reader.availableData
            if chunk.isEmpty { break }
            line += chunk
        }
        firstStdoutLine = String(decoding: line, as: UTF8.self)
        reader.readabilityHandler = { handle in
            if handle.availableData.isEmpty { handle.readabilityHandler = nil }
        }
    }

    /// Sandboxes still running when the test process exits (a class-level one whose tearDown did
    /// not run) are sent SIGTERM then, so none outlives the suite.
    nonisolated(unsafe) private static var running: Set<pid_t> = []
    nonisolated(unsafe) private static var exitHookInstalled = false
    private static let lock = NSLock()

    private static func track(_ pid: pid_t) {
        lock.withLock {
            running.insert(pid)
            if !exitHookInstalled {
                exitHookInstalled = true
                atexit { for pid in SandboxLauncher.running { kill(pid, SIGTERM) } }
            }
        }
    }

    private static func untrack(_ pid: pid_t) { _ = lock.withLock { running.remove(pid) } }

    /// `export NAME=VALUE` lines into a dictionary.
    public static func parseEnv(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("export ") {
            let kv = line.dropFirst(7).split(separator: "=", maxSplits: 1)
            if kv.count == 2 { out[String(kv[0])] = String(kv[1]) }
        }
        return out
    }

    /// The sandbox's own base URL.
    public var baseURL: String { environment["CMO_SANDBOX_URL"] ?? "" }

    /// `GITHUB_API_URL` and `GITHUB_TOKEN`, for a stage's environment.
    public var githubEnvironment: [String: String] {
        ["GITHUB_API_URL": environment["GITHUB_API_URL"] ?? "", "GITHUB_TOKEN": environment["GITHUB_TOKEN"] ?? ""]
    }

    /// GETs (or POSTs) a sandbox URL with curl and returns the body.
    public func fetch(_ pathOrURL: String, method: String = "GET", headers: [String: String] = [:]) throws -> Data {
        let url = pathOrURL.hasPrefix("http") ? pathOrURL : baseURL + pathOrURL
        var args = ["-s", "-X", method, "-H", "User-Agent: cmo-tests"]
        for (k, v) in headers { args += ["-H", "\(k): \(v)"] }
        let result = try Spawn.run("/usr/bin/curl", args + [url])
        guard result.status == 0 else { throw Failure(description: "curl \(url) exited \(result.status)") }
        return result.stdout
    }

    /// A sandbox endpoint's JSON object.
    public func json(_ path: String) throws -> [String: Any] {
        guard let o = try JSONSerialization.jsonObject(with: try fetch(path)) as? [String: Any] else {
            throw Failure(description: "\(path) is not a JSON object")
        }
        return o
    }

    /// `GET /_sandbox/stats`.
    public func stats() throws -> [String: Any] { try json("/_sandbox/stats") }

    /// `GET /_sandbox/truth`.
    public func truth() throws -> [String: Any] { try json("/_sandbox/truth") }

    /// `POST /_sandbox/reset`: counters, buckets and penalties forgotten; the world stays.
    public func reset() throws { _ = try fetch("/_sandbox/reset", method: "POST") }

    /// Rate-limit violations recorded so far.
    public func violations() throws -> Int { try stats()["violations_total"] as? Int ?? -1 }

    /// Requests recorded for one endpoint (`"github POST /graphql"`).
    public func requests(_ endpoint: String) throws -> Int {
        (try stats()["requests"] as? [String: Any])?[endpoint] as? Int ?? 0
    }

    /// Quota spent in a bucket (`"github/graphql"`).
    public func quota(_ bucket: String) throws -> Int {
        (try stats()["quota_spent"] as? [String: Any])?[bucket] as? Int ?? 0
    }

    /// Stops the sandbox (SIGTERM, then SIGKILL after 10 s), removes its directory and returns its
    /// exit status (-1 when it had to be killed).
    @discardableResult
    public func stop() -> Int32 {
        Self.untrack(process.processIdentifier)
        var killed = false
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            let deadline = Date().addingTimeInterval(10)
            while process.isRunning && Date() < deadline { usleep(5_000) }
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                killed = true
            }
        }
        try? FileManager.default.removeItem(atPath: directory)
        return killed ? -1 : process.terminationStatus
    }

    deinit { stop() }
}
