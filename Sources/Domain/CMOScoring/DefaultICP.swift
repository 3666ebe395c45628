/// The ICP score-icp uses when none is configured: `Sources/Domain/CMOScoring/Resources/icp.yaml`, compiled in
/// as `ICP.defaultYAML` by the EmbedText plugin (`examples/icp.yaml` is a link to the same file, so the
/// two cannot drift).
extension ICP {
    /// The built-in profile.
    public static func builtIn() throws -> ICP { try parse(yaml: defaultYAML, source: "the built-in ICP") }
}
