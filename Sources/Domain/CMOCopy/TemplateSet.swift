import CMOBasics
import Foundation
import Stencil

/// Loading the `--template` list and checking it as a whole.
public enum TemplateSet {
    /// Loads files and directories (a directory gives its `*.yaml`/`*.yml` files sorted by name), in
    /// the order given; that order fixes the variant letters. Template names must be distinct.
    public static func load(_ paths: [String], environment: Environment) throws -> [CopyTemplate] {
        var files: [String] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw TemplateError("template '\(path)' does not exist")
            }
            if isDirectory.boolValue {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
                let found = names.filter { ($0.hasSuffix(".yaml") || $0.hasSuffix(".yml")) && !$0.hasPrefix(".") }.sorted()
                guard !found.isEmpty else { throw TemplateError("template directory '\(path)' has no *.yaml or *.yml file") }
                files += found.map { (path as NSString).appendingPathComponent($0) }
            } else {
                files.append(path)
            }
        }
        let templates = try files.map { try CopyTemplate.load(path: $0, environment: environment) }
        var seen: [String: String] = [:]
        for t in templates {
            if let other = seen[t.name] { throw TemplateError("templates '\(other)' and '\(t.source)' are both named '\(t.name)'") }
            seen[t.name] = t.source
        }
        return templates
    }

    /// For sending-ready copy: every body prints `variable` outside any block, and when the variable
    /// is `campaign.<key>`, the campaign config gives it a non-empty value.
    public static func checkUnsubscribe(_ templates: [CopyTemplate], variable: String, campaign: [String: Any]) throws {
        for t in templates where !t.bodyPrintsUnconditionally(variable) {
            throw TemplateError(
                "template '\(t.source)': the body does not print {{ \(variable) }} outside any {% if %}/{% for %} "
                    + "(required by --require-unsubscribe: sending-ready copy needs an unsubscribe link)")
        }
        let parts = variable.split(separator: ".").map(String.init)
        if parts.first == "campaign", parts.count == 2, TextCleaning.isBlank(campaign[parts[1]]) {
            throw TemplateError("--require-unsubscribe: the config's 'campaign:' mapping has no '\(parts[1])' (the unsubscribe link)")
        }
    }
}
