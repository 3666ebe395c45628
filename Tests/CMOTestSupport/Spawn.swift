import Foundation

/// What a spawned executable did.
public struct SpawnResult {
    public let status: Int32
    public let stdout: Data
    public let stderr: Data
    public var out: String { String(decoding: stdout, as: UTF8.self) }
    public var err: String { String(decoding: stderr, as: UTF8.self) }
    /// stdout split into lines (without the empty tail).
    public var lines: [String] { out.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).filter { !$0.isEmpty } }
}

/// Runs the built executables the way a person does: a clean environment (no real token can leak in),
/// stdin from a file, stdout and stderr captured to files (no pipe dead-locks on big outputs).
public enum Spawn {
    /// The folder holding the built products (next to the test bundle).
    public static var productsDirectory: URL {
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var dir = exe.deletingLastPathComponent()
        // swift test runs `<products>/<name>PackageTests.xctest` (a file on Linux, a bundle elsewhere).
        while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("export-csv").path), dir.path != "/" {
            dir = dir.deletingLastPathComponent()
        }
        return dir
    }

    /// The path of a built executable.
    public static func executable(_ name: String) -> String { productsDirectory.appendingPathComponent(name).path }

    /// A fresh temporary directory.
    public static func tempDirectory() -> String {
        let dir = NSTemporaryDirectory() + "cmo-test-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Runs `name` with `arguments`, feeding `stdin`, with only `environment` (plus PATH, HOME in a temp dir).
    public static func run(
        _ name: String, _ arguments: [String] = [], stdin: Data = Data(), environment: [String: String] = [:],
        currentDirectory: String? = nil
    ) throws -> SpawnResult {
        let dir = tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let inPath = dir + "/stdin"
        let outPath = dir + "/stdout"
        let errPath = dir + "/stderr"
        _ = FileManager.default.createFile(atPath: inPath, contents: stdin)
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: name.hasPrefix("/") ? name : executable(name))
        p.arguments = arguments
        var env = ["PATH": "/usr/bin:/bin", "HOME": dir, "CMO_STATE_DIR": dir + "/state", "LANG": "C.UTF-8"]
        env.merge(environment) { _, new in new }
        p.environment = env
        if let currentDirectory { p.currentDirectoryURL = URL(fileURLWithPath: currentDirectory) }
        p.standardInput = FileHandle(forReadingAtPath: inPath)
        p.standardOutput = FileHandle(forWritingAtPath: outPath)
        p.standardError = FileHandle(forWritingAtPath: errPath)
        try p.run()
        p.waitUntilExit()
        return SpawnResult(
            status: p.terminationStatus, stdout: FileManager.default.contents(atPath: outPath) ?? Data(),
            stderr: FileManager.default.contents(atPath: errPath) ?? Data())
    }

    /// Runs a bash script with the products directory first on PATH; for pipelines.
    public static func shell(_ script: String, environment: [String: String] = [:]) throws -> SpawnResult {
        try run(
            "/bin/bash", ["-c", script], environment: ["PATH": productsDirectory.path + ":/usr/bin:/bin"].merging(environment) { _, n in n }
        )
    }
}

/// Records for a writer's stdin and back from its stdout, and the count of its result statuses.
public enum NDJSON {
    /// Objects as NDJSON lines (keys sorted).
    public static func data(_ records: [[String: Any]]) -> Data {
        var out = Data()
        for r in records {
            out.append(try! JSONSerialization.data(withJSONObject: r, options: [.sortedKeys]))
            out.append(0x0A)
        }
        return out
    }

    /// Every stdout line as an object; a line that is not one is an error naming it.
    public static func objects(_ r: SpawnResult) throws -> [[String: Any]] {
        try r.lines.map { line in
            guard let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw SandboxLauncher.Failure(description: "not a JSON object: \(line)")
            }
            return o
        }
    }

    /// How many output records have each `<field>.status` ("none" when absent).
    public static func statuses(_ r: SpawnResult, field: String) throws -> [String: Int] {
        var out: [String: Int] = [:]
        for o in try objects(r) { out[((o[field] as? [String: Any])?["status"] as? String) ?? "none", default: 0] += 1 }
        return out
    }
}
