import Foundation

extension Settings {
    /// The folder relative paths in the config file are read from: the config file's own folder, so
    /// that `template: templates/` next to `campaign.yaml` works from any working directory.
    public var configDirectory: String? {
        configPath.map { (($0 as NSString).deletingLastPathComponent as NSString).standardizingPath }
            .map { $0.isEmpty ? "." : $0 }
    }

    /// A file path as the config file meant it: absolute paths and `~/…` as they are, relative ones
    /// against the config file's folder.
    public func pathFromConfig(_ path: String) -> String {
        let expanded = (path as NSString).expandingTildeInPath
        guard !expanded.hasPrefix("/"), let base = configDirectory else { return expanded }
        return (base as NSString).appendingPathComponent(expanded)
    }

    /// A setting that names files: flags and the environment relative to the working directory,
    /// the config file's values relative to the config file.
    public func resolvePaths(_ key: String, flag: [String]?, env: String? = nil, default def: [String] = []) throws -> [String] {
        let value: [String] = try resolve(key, flag: flag, env: env, default: def)
        guard flag == nil, optionValue(key) != nil else { return value }
        return value.map(pathFromConfig)
    }

    /// One file path setting, resolved like `resolvePaths`.
    public func resolvePath(_ key: String, flag: String?, env: String? = nil) throws -> String? {
        let value: String? = try resolve(key, flag: flag, env: env)
        guard flag == nil, optionValue(key) != nil, let value else { return value }
        return pathFromConfig(value)
    }
}
