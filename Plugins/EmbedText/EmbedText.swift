import PackagePlugin

/// Compiles the text data files of a target into it as Swift string literals, at build time: the
/// repository keeps the data as data (one entry a line), the binaries carry it, and nothing is read
/// at run time (a copied binary has no resource bundle to find). SwiftPM's own `.embedInCode` makes a
/// `[UInt8]` array literal instead, which for the 147 KB disposable-domain list costs ~18 s and 1.1 GB
/// to type-check in a debug build and ~37 s in a release one; a string literal costs 0.5 s.
@main
struct EmbedText: BuildToolPlugin {
    /// Per target: its folder, and each data file (relative to it) with the type and static member it becomes.
    static let files: [String: (folder: String, entries: [(file: String, type: String, member: String)])] = [
        "CMOEmail": ("Sources/Domain/CMOEmail", [("disposable-domains.txt", "DisposableDomains", "text")]),
        "CMOScoring": ("Sources/Domain/CMOScoring", [("Resources/icp.yaml", "ICP", "defaultYAML")]),
        "CMOSandbox": (
            "Sources/Sandbox/CMOSandbox",
            [
                ("Resources/github-schema.graphql", "GitHubSchemaSDL", "text"), ("Resources/linear-schema.graphql", "LinearSchemaSDL", "text"),
                ("Attio/public-suffix-icann.txt", "AttioPublicSuffix", "icannRules"),
            ]
        ),
    ]

    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let tool = try context.tool(named: "EmbedTextTool").url
        // Target.directoryURL needs tools 6.1; the package is 6.0, whose Package.directoryURL is there.
        guard let (path, entries) = Self.files[target.name] else { return [] }
        let folder = context.package.directoryURL.appending(path: path)
        return entries.map { entry in
            let input = folder.appending(path: entry.file)
            let output = context.pluginWorkDirectoryURL.appending(path: "\(entry.type)+\(entry.member).swift")
            return .buildCommand(
                displayName: "Embedding \(entry.file) as \(entry.type).\(entry.member)", executable: tool,
                arguments: [input.path, output.path, entry.type, entry.member], inputFiles: [input], outputFiles: [output])
        }
    }
}
