/// The ICP score-icp uses when none is configured: `Sources/CMOCore/Resources/icp.yaml`, compiled in
/// (`examples/icp.yaml` is a link to the same file, so the two cannot drift).
extension ICP {
    /// The built-in profile's YAML text.
    public static let defaultYAML = String(decoding: PackageResources.icp_yaml, as: UTF8.self)

    /// The built-in profile.
    public static func builtIn() throws -> ICP { try parse(yaml: defaultYAML, source: "the built-in ICP") }
}
