import Foundation
import Yams

/// Where a setting's effective value came from.
public enum SettingSource: String, Sendable {
    case flag, config, environment, `default`
}

/// A value a setting can hold: read from a YAML scalar or sequence, or from an environment string.
public protocol SettingValue {
    init?(yaml: Any)
    init?(environment: String)
    /// How `--print-config` shows it.
    var settingDescription: String { get }
    /// What a config value must be, for the error when it is not (`a whole number`).
    static var settingKind: String { get }
}

extension SettingValue {
    public static var settingKind: String { "a single value" }
}

extension SettingValue where Self: CaseIterable & RawRepresentable, RawValue == String {
    public static var settingKind: String { "one of " + allCases.map(\.rawValue).joined(separator: ", ") }
}

extension String: SettingValue {
    public init?(yaml: Any) {
        switch yaml {
        case let s as String: self = s
        case let i as Int: self = String(i)
        case let d as Double: self = String(d)
        case let b as Bool: self = String(b)
        default: return nil
        }
    }
    public init?(environment: String) { self = environment }
    public var settingDescription: String { self }
    public static var settingKind: String { "a string" }
}

extension Int: SettingValue {
    public init?(yaml: Any) {
        if let i = yaml as? Int { self = i } else if let s = yaml as? String, let i = Int(s) { self = i } else { return nil }
    }
    public init?(environment: String) {
        guard let i = Int(environment.trimmingCharacters(in: .whitespaces)) else { return nil }
        self = i
    }
    public var settingDescription: String { String(self) }
    public static var settingKind: String { "a whole number" }
}

extension Double: SettingValue {
    public init?(yaml: Any) {
        if let d = yaml as? Double {
            self = d
        } else if let i = yaml as? Int {
            self = Double(i)
        } else if let s = yaml as? String, let d = Double(s) {
            self = d
        } else {
            return nil
        }
    }
    public init?(environment: String) {
        guard let d = Double(environment.trimmingCharacters(in: .whitespaces)) else { return nil }
        self = d
    }
    public var settingDescription: String { String(self) }
    public static var settingKind: String { "a number" }
}

extension Bool: SettingValue {
    public init?(yaml: Any) {
        if let b = yaml as? Bool { self = b } else if let s = yaml as? String, let b = Bool(environment: s) { self = b } else { return nil }
    }
    public init?(environment: String) {
        switch environment.lowercased() {
        case "1", "true", "yes", "on": self = true
        case "0", "false", "no", "off", "": self = false
        default: return nil
        }
    }
    public var settingDescription: String { String(self) }
    public static var settingKind: String { "true or false" }
}

extension Array: SettingValue where Element == String {
    public init?(yaml: Any) {
        if let a = yaml as? [Any] {
            var out: [String] = []
            for v in a {
                guard let s = String(yaml: v) else { return nil }
                out.append(s)
            }
            self = out
        } else if let s = yaml as? String {
            self = s.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        } else {
            return nil
        }
    }
    public init?(environment: String) { self = environment.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
    public var settingDescription: String { joined(separator: ",") }
    public static var settingKind: String { "a list of strings (a YAML sequence or one comma-separated string)" }
}

/// Resolves every setting of a stage once, in one place: command-line flag → `--config` YAML →
/// environment → built-in default, remembering each value's source for `--print-config`.
///
/// A config file is a YAML mapping. Keys are the long option names (`max-errors`, or `max_errors`);
/// a mapping under the stage's own name (`export-csv: {columns: …}`) overrides the top level, so one
/// file can serve a whole pipeline. A mapping at the top level is a section (another stage's, or data
/// such as `campaign:` or `triage:`), never an option's value: an option of the same name ignores it.
/// Secrets are never read from it.
public final class Settings {
    /// One resolved setting, as `--print-config` shows it.
    public struct Entry: Sendable {
        public let key: String
        public let value: String?
        public let source: SettingSource
        public let secret: Bool
    }

    public let stage: String
    public let configPath: String?
    /// The process environment, plus the config's `database-url` as `CMO_DATABASE_URL` when the
    /// environment does not set it (so every store this stage opens finds the team database).
    public private(set) var environment: [String: String]
    private var top: [String: Any] = [:]
    private var section: [String: Any] = [:]
    public private(set) var entries: [Entry] = []

    /// Loads `configPath` (when given); a missing or malformed file is a configuration error (exit 78).
    public init(stage: String, configPath: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        self.stage = stage
        self.configPath = configPath
        self.environment = environment
        guard let configPath else { return }
        let text: String
        do {
            text = try String(contentsOfFile: configPath, encoding: .utf8)
        } catch {
            throw StageFailure(.config, "cannot read config '\(configPath)': \(error.localizedDescription)")
        }
        let loaded: Any?
        do {
            loaded = try Yams.load(yaml: text)
        } catch {
            throw StageFailure(.config, "config '\(configPath)' is not valid YAML: \(error)")
        }
        guard let loaded else { return }  // an empty file is an empty config
        guard let mapping = loaded as? [String: Any] else {
            throw StageFailure(.config, "config '\(configPath)' must be a YAML mapping of setting names to values")
        }
        top = Settings.normalised(mapping)
        if let own = mapping[stage] as? [String: Any] { section = Settings.normalised(own) }
        try applyDatabaseURL()
    }

    /// The team database from the config (`database-url: postgres://USER@HOST:PORT/DATABASE`, top level),
    /// unless `CMO_DATABASE_URL` is set. A password does not belong in a config file: it comes from
    /// `CMO_DATABASE_PASSWORD` or `PGPASSWORD`, and a config URL holding one is refused (78).
    private func applyDatabaseURL() throws {
        guard let raw = top["database-url"] else { return }
        guard let url = raw as? String else {
            throw StageFailure(.config, "config '\(configPath ?? "")': 'database-url' must be a postgres:// URL, not \(Settings.describe(raw))")
        }
        if let comps = URLComponents(string: url), comps.password != nil {
            throw StageFailure(
                .config,
                "config '\(configPath ?? "")': 'database-url' holds a password; leave it out and set CMO_DATABASE_PASSWORD (or PGPASSWORD) instead")
        }
        if (environment["CMO_DATABASE_URL"] ?? "").isEmpty, !url.isEmpty {
            environment["CMO_DATABASE_URL"] = url
            entries.append(Entry(key: "database-url", value: url, source: .config, secret: false))
        } else if let env = environment["CMO_DATABASE_URL"], !env.isEmpty {
            entries.append(Entry(key: "database-url", value: "(CMO_DATABASE_URL)", source: .environment, secret: false))
        }
    }

    private static func normalised(_ m: [String: Any]) -> [String: Any] {
        var out: [String: Any] = [:]
        for (k, v) in m { out[k.replacingOccurrences(of: "_", with: "-")] = v }
        return out
    }

    /// The raw YAML value for `key` (stage section first, then top level), sections included.
    public func configValue(_ key: String) -> Any? { section[key] ?? top[key] }

    /// The config value an option reads: the stage's own section first, then the top level, where a
    /// mapping is a section of its own (`campaign:`, `triage:`, another stage's) and not this option's.
    func optionValue(_ key: String) -> Any? {
        if let v = section[key] { return v }
        guard let v = top[key], !Self.isMapping(v) else { return nil }
        return v
    }

    static func isMapping(_ v: Any) -> Bool { v is [AnyHashable: Any] || v is [String: Any] }

    /// A config value as an error names it: `a mapping (sender_name, sending, …)`, `a list`, or the scalar.
    static func describe(_ v: Any) -> String {
        if let m = v as? [AnyHashable: Any] {
            let keys = m.keys.map { "\($0.base)" }.sorted()
            return "a mapping (" + keys.prefix(4).joined(separator: ", ") + (keys.count > 4 ? ", …" : "") + ")"
        }
        if let a = v as? [Any] { return "a list of \(a.count)" }
        if let s = v as? String { return "'\(s)'" }
        return "\(v)"
    }

    /// Resolves a setting with a default.
    public func resolve<T: SettingValue>(_ key: String, flag: T?, env: String? = nil, default def: T) throws -> T {
        try resolve(key, flag: flag, env: env) ?? record(key, def, .default)
    }

    /// Resolves a setting that may stay unset.
    public func resolve<T: SettingValue>(_ key: String, flag: T?, env: String? = nil) throws -> T? {
        if let flag { return record(key, flag, .flag) }
        if let raw = optionValue(key) {
            guard let v = T(yaml: raw) else {
                let place = section[key] != nil ? "'\(stage)' section, " : ""
                throw StageFailure(
                    .config, "config '\(configPath ?? "")': \(place)'\(key)' must be \(T.settingKind), not \(Self.describe(raw))")
            }
            return record(key, v, .config)
        }
        if let env, let raw = environment[env], !raw.isEmpty {
            guard let v = T(environment: raw) else {
                throw StageFailure(.config, "environment variable \(env) has an invalid value for '\(key)'")
            }
            return record(key, v, .environment)
        }
        entries.append(Entry(key: key, value: nil, source: .default, secret: false))
        return nil
    }

    /// The error for a resolved value that parsed but is out of range (`max-errors: -1`), naming the
    /// setting and where the value came from: 78 for a config file or the environment, 64 for a flag.
    public func invalid(_ key: String, env: String? = nil, _ problem: String) -> StageFailure {
        let entry = entries.last { $0.key == key }
        let value = entry?.value ?? "(unset)"
        switch entry?.source {
        case .config?: return StageFailure(.config, "config '\(configPath ?? "")': '\(key)' \(problem) (it is \(value))")
        case .environment?: return StageFailure(.config, "environment variable \(env ?? key)=\(value): '\(key)' \(problem)")
        case .flag?: return StageFailure(.usage, "'--\(key)' \(problem)")
        default: return StageFailure(.config, "'\(key)' \(problem) (it is \(value))")
        }
    }

    /// A secret, from the environment only; `--print-config` shows whether it is set, never its value.
    public func secret(_ env: String) -> String? {
        let v = environment[env].flatMap { $0.isEmpty ? nil : $0 }
        entries.append(
            Entry(
                key: env, value: v == nil ? nil : "set (\(v!.count) characters, masked)", source: v == nil ? .default : .environment,
                secret: true))
        return v
    }

    private func record<T: SettingValue>(_ key: String, _ v: T, _ source: SettingSource) -> T {
        entries.removeAll { $0.key == key }
        entries.append(Entry(key: key, value: v.settingDescription, source: source, secret: false))
        return v
    }

    /// The `--print-config` listing: one `key = value  (source)` line per setting.
    public func describe() -> String {
        let width = entries.map(\.key.count).max() ?? 0
        var lines = ["# \(stage) effective configuration" + (configPath.map { " (config file: \($0))" } ?? "")]
        for e in entries {
            let key = e.key.padding(toLength: width, withPad: " ", startingAt: 0)
            lines.append("\(key) = \(e.value ?? "(unset)")  (\(e.source.rawValue))")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
