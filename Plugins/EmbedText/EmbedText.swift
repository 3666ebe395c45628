import PackagePlugin

/// Compiles the text data files of a target into it as Swift string literals, at build time: the
/// repository keeps the data as data (one entry a line), the binaries carry it, and nothing is read
/// at run time (a copied binary has no resource bundle to find). SwiftPM's own `.embedInCode` makes a
/// `[UInt8]` array literal instead, which for the 147 KB disposable-domain list costs ~18 s and 1.1 GB
/// to type-check in a debug build and ~37 s in a release one; a string literal costs 0.5 s.
@main
struct EmbedText: BuildToolPlugin {
    /// Per target: the data file (relative to the target's folder), and the type and static member it becomes.
    static let files: [String: [(file: String, type: String, member: String)]] = [
        "CMOCore": [
            ("Email/disposable-domains.txt", "DisposableDomains", "text"),
            ("Resources/icp.yaml", "ICP", "defaultYAML"),
        ]
    ]

    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let tool = try context.tool(named: "EmbedTextTool").url
        // Target.directoryURL needs tools 6.1; the package is 6.0, whose Package.directoryURL is there.
        let folder = context.package.directoryURL.appending(path: "Sources/\(target.name)")
        return (Self.files[target.name] ?? []).map { entry in
            let input = folder.appending(path: entry.file)
            let output = context.pluginWorkDirectoryURL.appending(path: "\(entry.type)+\(entry.member).swift")
            return .buildCommand(
                displayName: "Embedding \(entry.file) as \(entry.type).\(entry.member)", executable: tool,
                arguments: [input.path, output.path, entry.type, entry.member], inputFiles: [input], outputFiles: [output])
        }
    }
}
