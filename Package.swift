// swift-tools-version:6.0
import PackageDescription

let core: Target.Dependency = "CMOCore"
/// What the stages and the agent agree on: the stage registry, summaries, writer results, dead letters,
/// run events and timestamps (Foundation only).
let contract: Target.Dependency = "CMOContract"

let package = Package(
    name: "cmo",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "export-csv", targets: ["export-csv"]),
        .executable(name: "cmo-sandbox", targets: ["cmo-sandbox"]),
        .executable(name: "gh-search", targets: ["gh-search"]),
        .executable(name: "gh-people", targets: ["gh-people"]),
        .executable(name: "gh-enrich", targets: ["gh-enrich"]),
        .executable(name: "mx-check", targets: ["mx-check"]),
        .executable(name: "score-icp", targets: ["score-icp"]),
        .executable(name: "render-copy", targets: ["render-copy"]),
        .executable(name: "send-instantly", targets: ["send-instantly"]),
        .executable(name: "cmo-suppress", targets: ["cmo-suppress"]),
        .executable(name: "sync-attio", targets: ["sync-attio"]),
        .executable(name: "sync-linear", targets: ["sync-linear"]),
        .executable(name: "cmo-plan", targets: ["cmo-plan"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/GraphQLSwift/GraphQL", from: "4.3.0"),
        .package(url: "https://github.com/stencilproject/Stencil", from: "0.15.1"),
    ],
    targets: [
        .systemLibrary(name: "CCurl", path: "Sources/CCurl"),
        .systemLibrary(name: "CJQ", path: "Sources/CJQ"),
        .target(name: "CMOContract"),
        .target(
            name: "CMOCore",
            dependencies: [
                "CCurl", "CJQ", contract,
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            // Email/disposable-domains.txt as DisposableDomains.text and Resources/icp.yaml (the built-in
            // ICP; examples/icp.yaml links to it) as ICP.defaultYAML, compiled in by Plugins/EmbedText.
            exclude: ["Email/disposable-domains.txt", "Resources/icp.yaml"],
            plugins: ["EmbedText"]
        ),
        .executableTarget(name: "export-csv", dependencies: [core], path: "Sources/export-csv"),
        .executableTarget(name: "gh-search", dependencies: [core], path: "Sources/gh-search"),
        .executableTarget(name: "gh-people", dependencies: [core], path: "Sources/gh-people"),
        .executableTarget(name: "gh-enrich", dependencies: [core], path: "Sources/gh-enrich"),
        .executableTarget(name: "mx-check", dependencies: [core], path: "Sources/mx-check"),
        .executableTarget(name: "score-icp", dependencies: [core], path: "Sources/score-icp"),
        .target(
            name: "CMOCopy",
            dependencies: [
                core, .product(name: "Stencil", package: "Stencil"), .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]),
        .executableTarget(name: "render-copy", dependencies: ["CMOCopy", core], path: "Sources/render-copy"),
        .executableTarget(name: "send-instantly", dependencies: [core, contract], path: "Sources/send-instantly"),
        .executableTarget(name: "cmo-suppress", dependencies: [core], path: "Sources/cmo-suppress"),
        .executableTarget(name: "sync-attio", dependencies: [core, contract], path: "Sources/sync-attio"),
        .executableTarget(name: "sync-linear", dependencies: [core, contract], path: "Sources/sync-linear"),
        .target(name: "CSpawn", path: "Sources/CSpawn"),
        .target(name: "CMOAgent", dependencies: [core, contract, "CSpawn", .product(name: "Yams", package: "Yams")]),
        .executableTarget(name: "cmo-plan", dependencies: ["CMOAgent", core, contract], path: "Sources/cmo-plan"),
        .target(
            name: "CMOSandbox",
            dependencies: [
                core,
                .product(name: "GraphQL", package: "GraphQL"),
            ],
            resources: [.copy("Resources/github-schema.graphql"), .copy("Resources/linear-schema.graphql")]
        ),
        .executableTarget(name: "cmo-sandbox", dependencies: ["CMOSandbox", core], path: "Sources/cmo-sandbox"),
        .executableTarget(name: "EmbedTextTool", path: "Plugins/EmbedTextTool"),
        .plugin(name: "EmbedText", capability: .buildTool(), dependencies: ["EmbedTextTool"], path: "Plugins/EmbedText"),
        .target(name: "CMOTestSupport", path: "Tests/CMOTestSupport"),
        .testTarget(name: "CMOCoreTests", dependencies: [core]),
        .testTarget(name: "SandboxTests", dependencies: ["CMOSandbox", core, "CMOTestSupport"]),
        .testTarget(name: "StageTests", dependencies: [core, "CMOTestSupport"]),
        .testTarget(name: "AgentTests", dependencies: ["CMOAgent", core, contract, "CMOTestSupport"]),
        .testTarget(name: "CopyTests", dependencies: ["CMOCopy", core, "CMOTestSupport"]),
    ]
)
