// swift-tools-version:6.0
import PackageDescription

// The package in its layers, bottom up (docs/architecture.md). A target lists only what it uses, so a
// stage links only what it needs: score-icp links no libcurl, GRDB or crypto.

// Infrastructure: what every layer above stands on.
let contract: Target.Dependency = "CMOContract"  // what the stages and the agent agree on (Foundation only)
let basics: Target.Dependency = "CMOBasics"  // JSON, records, NDJSON I/O, settings, logging, jq, text, CSV, exit statuses
let storage: Target.Dependency = "CMOStorage"  // the storage seam: SQLite or PostgreSQL state, the job queue, file locks
let dns: Target.Dependency = "CMODNS"  // the DNS client and its cache
let httpServer: Target.Dependency = "CMOHTTPServer"  // the HTTP/1.1 server over POSIX sockets (sandbox, cmo-hooks)
// The stage runtime: one command base and lifecycle for every stage.
let stageKit: Target.Dependency = "CMOStageKit"
// Service clients.
let http: Target.Dependency = "CMOHTTP"  // libcurl, rate-limit dialects, the cache, service endpoints
let github: Target.Dependency = "CMOGitHub"
let services: Target.Dependency = "CMOServices"  // Instantly, Attio, Linear, an OpenAI-compatible model
// The stages' domain logic.
let email: Target.Dependency = "CMOEmail"
let scoring: Target.Dependency = "CMOScoring"
let ledger: Target.Dependency = "CMOLedger"
let writers: Target.Dependency = "CMOWriters"
let copy: Target.Dependency = "CMOCopy"
let hooks: Target.Dependency = "CMOHooks"  // what Instantly's events do, once each (cmo-hooks apply)

/// Every library below the agent, for the tests.
let libraries: [Target.Dependency] = [contract, basics, storage, dns, stageKit, http, github, services, email, scoring, ledger, writers]

let argumentParser: Target.Dependency = .product(name: "ArgumentParser", package: "swift-argument-parser")
let yams: Target.Dependency = .product(name: "Yams", package: "Yams")
let grdb: Target.Dependency = .product(name: "GRDB", package: "GRDB.swift")
let crypto: Target.Dependency = .product(name: "Crypto", package: "swift-crypto")
let postgres: Target.Dependency = .product(name: "PostgresNIO", package: "postgres-nio")
let logging: Target.Dependency = .product(name: "Logging", package: "swift-log")

/// A stage: an executable in Sources/Stages/NAME.
func stage(_ name: String, _ dependencies: [Target.Dependency]) -> Target {
    .executableTarget(name: name, dependencies: [basics, stageKit, argumentParser] + dependencies, path: "Sources/Stages/\(name)")
}

let package = Package(
    name: "cmo",
    platforms: [.macOS(.v13)],
    products: [
        // The stages, in pipeline order, then the agent and the sandbox.
        .executable(name: "gh-search", targets: ["gh-search"]),
        .executable(name: "gh-people", targets: ["gh-people"]),
        .executable(name: "gh-enrich", targets: ["gh-enrich"]),
        .executable(name: "mx-check", targets: ["mx-check"]),
        .executable(name: "score-icp", targets: ["score-icp"]),
        .executable(name: "render-copy", targets: ["render-copy"]),
        .executable(name: "send-instantly", targets: ["send-instantly"]),
        .executable(name: "sync-attio", targets: ["sync-attio"]),
        .executable(name: "sync-linear", targets: ["sync-linear"]),
        .executable(name: "export-csv", targets: ["export-csv"]),
        .executable(name: "cmo-suppress", targets: ["cmo-suppress"]),
        .executable(name: "cmo-hooks", targets: ["cmo-hooks"]),
        .executable(name: "cmo-plan", targets: ["cmo-plan"]),
        .executable(name: "cmo-sandbox", targets: ["cmo-sandbox"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/GraphQLSwift/GraphQL", from: "4.3.0"),
        .package(url: "https://github.com/stencilproject/Stencil", from: "0.15.1"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // Infrastructure.
        .systemLibrary(name: "CCurl", path: "Sources/Infrastructure/CCurl"),
        .systemLibrary(name: "CJQ", path: "Sources/Infrastructure/CJQ"),
        .target(name: "CSpawn", path: "Sources/Infrastructure/CSpawn"),
        .target(name: "CMOContract", path: "Sources/Infrastructure/CMOContract"),
        .target(name: "CMOBasics", dependencies: [contract, "CJQ", yams], path: "Sources/Infrastructure/CMOBasics"),
        .target(name: "CMOStorage", dependencies: [contract, basics, grdb, postgres, logging], path: "Sources/Infrastructure/CMOStorage"),
        .target(name: "CMODNS", dependencies: [basics, storage, grdb], path: "Sources/Infrastructure/CMODNS"),
        .target(name: "CMOHTTPServer", path: "Sources/Infrastructure/CMOHTTPServer"),

        // The stage runtime.
        .target(name: "CMOStageKit", dependencies: [basics, argumentParser], path: "Sources/Runtime/CMOStageKit"),

        // Service clients.
        .target(name: "CMOHTTP", dependencies: [basics, storage, stageKit, "CCurl", grdb, crypto, argumentParser], path: "Sources/Clients/CMOHTTP"),
        .target(name: "CMOGitHub", dependencies: [contract, basics, storage, http, email, grdb], path: "Sources/Clients/CMOGitHub"),
        .target(name: "CMOServices", dependencies: [contract, basics, http], path: "Sources/Clients/CMOServices"),

        // Domain logic. Email's disposable domains and the built-in ICP are compiled in by Plugins/EmbedText.
        .target(name: "CMOEmail", dependencies: [basics, dns], path: "Sources/Domain/CMOEmail",
                exclude: ["disposable-domains.txt"], plugins: ["EmbedText"]),
        .target(name: "CMOScoring", dependencies: [basics, yams], path: "Sources/Domain/CMOScoring",
                exclude: ["Resources/icp.yaml"], plugins: ["EmbedText"]),
        .target(name: "CMOLedger", dependencies: [contract, basics, storage, email, grdb], path: "Sources/Domain/CMOLedger"),
        .target(name: "CMOWriters", dependencies: [contract, basics, storage, stageKit, http, services, email, ledger, grdb],
                path: "Sources/Domain/CMOWriters"),
        .target(name: "CMOCopy", dependencies: [basics, http, .product(name: "Stencil", package: "Stencil"), yams, crypto],
                path: "Sources/Domain/CMOCopy"),
        .target(name: "CMOHooks", dependencies: [contract, basics, storage, stageKit, http, services, ledger, writers],
                path: "Sources/Domain/CMOHooks"),

        // The stages, in pipeline order.
        stage("gh-search", [http, github]),
        stage("gh-people", [http, github]),
        stage("gh-enrich", [http, github, email]),
        stage("mx-check", [dns, email]),
        stage("score-icp", [scoring]),
        stage("render-copy", [copy, http]),
        stage("send-instantly", [contract, writers, ledger, email, services, http]),
        stage("sync-attio", [contract, writers, ledger, services, http]),
        stage("sync-linear", [contract, writers, ledger, services, http]),
        stage("export-csv", []),
        stage("cmo-suppress", [ledger]),
        stage("cmo-hooks", [contract, storage, services, http, httpServer, hooks]),

        // The agent: planner, runner, queue, chat and report (CMOAgent), and its command.
        .target(name: "CMOAgent", dependencies: [contract, basics, storage, http, services, scoring, "CSpawn", yams],
                path: "Sources/Agent/CMOAgent"),
        .executableTarget(name: "cmo-plan", dependencies: ["CMOAgent", contract, basics, storage, stageKit, services, scoring, argumentParser],
                          path: "Sources/Agent/cmo-plan"),

        // The sandbox: GitHub, DNS, Instantly, Attio, Linear and an OpenAI-compatible model on loopback.
        // Its vendors' GraphQL schemas and the public suffix list are compiled in by Plugins/EmbedText.
        .target(name: "CMOSandbox", dependencies: [basics, httpServer, .product(name: "GraphQL", package: "GraphQL")], path: "Sources/Sandbox/CMOSandbox",
                exclude: ["Resources/github-schema.graphql", "Resources/linear-schema.graphql", "Attio/public-suffix-icann.txt"],
                plugins: ["EmbedText"]),
        .executableTarget(name: "cmo-sandbox", dependencies: ["CMOSandbox", basics, argumentParser], path: "Sources/Sandbox/cmo-sandbox"),

        // Build-time helpers.
        .executableTarget(name: "EmbedTextTool", path: "Plugins/EmbedTextTool"),
        .plugin(name: "EmbedText", capability: .buildTool(), dependencies: ["EmbedTextTool"], path: "Plugins/EmbedText"),

        // Tests.
        .target(name: "CMOTestSupport", path: "Tests/CMOTestSupport"),
        .testTarget(name: "CMOCoreTests", dependencies: libraries + ["CMOTestSupport"]),
        .testTarget(name: "SandboxTests", dependencies: libraries + ["CMOSandbox", "CMOTestSupport"]),
        .testTarget(name: "StageTests", dependencies: libraries + ["CMOTestSupport"]),
        .testTarget(name: "AgentTests", dependencies: libraries + ["CMOAgent", "CMOTestSupport"]),
        .testTarget(name: "CopyTests", dependencies: libraries + [copy, "CMOTestSupport"]),
    ]
)
