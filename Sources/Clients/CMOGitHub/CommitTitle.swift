import Foundation

/// Whether a commit title says something about the person's own work, fit to quote in copy.
///
/// Copy that quotes "Merge pull request #1912 from …", "Bump requests from 2.31.0 to 2.32.0" or
/// "Update README.md" as someone's work reads as a mail merge, not as attention: such titles are
/// never quoted. The check is on the title's words alone (no regex, a few string tests per title).
public enum CommitTitle {
    /// Why a title is not quoted.
    public enum Unquotable: String, Sendable, CaseIterable {
        /// "Merge pull request #12 from …", "Merge branch 'main' into …".
        case merge
        /// "Revert "…"", "Reapply …".
        case revert
        /// A version or release: "v1.2.3", "Release 1.2", "Bump version to 2.0.1", "chore(release): 1.4.0".
        case release
        /// A dependency update, by hand or by dependabot/renovate: "Bump x from 1 to 2", "chore(deps): …".
        case dependency
        /// README, docs, typos, changelog, licence: "Update README.md", "fix typo", "docs: …".
        case docs
        /// Says nothing: "wip", ".", "Fix", "Update main.py" (GitHub's web editor), "chore: …", formatting.
        case trivial
    }

    /// True when the title may be quoted as the person's own work.
    public static func isQuotable(_ title: String) -> Bool { unquotable(title) == nil }

    /// Why the title is not to be quoted, or nil when it may be.
    public static func unquotable(_ title: String) -> Unquotable? {
        let line = title.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        let l = line.trimmingCharacters(in: .whitespaces).lowercased()
        let words = l.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        func starts(_ prefixes: [String]) -> Bool { prefixes.contains { l.hasPrefix($0) } }
        func has(_ parts: [String]) -> Bool { parts.contains { l.contains($0) } }

        if starts(["merge pull request", "merge branch", "merge remote", "merge tag", "merge commit", "merge '", "merge \"", "merge #",
            "merged in", "merged pr", "merge pr ", "merge main", "merge master", "merge develop", "merge upstream", "merge changes from"])
            || (words.first == "merge" && (has([" into ", " from ", " of "])))
        {
            return .merge
        }
        if starts(["revert", "reapply", "unrevert", "re-apply", "roll back", "rollback"]) || l.contains("this reverts commit") {
            return .revert
        }
        if has(["dependabot", "renovate", "[bot]", "pre-commit autoupdate", "[pre-commit.ci]", "lockfile", "lock file", "package-lock.json",
            "yarn.lock", "cargo.lock", "poetry.lock", "go.sum"])
            || starts(["update dependency", "update dependencies", "upgrade dependencies", "upgrade dependency", "pin dependency",
                "pin dependencies", "chore(deps", "build(deps", "fix(deps", "deps:", "deps(", "chore: bump", "chore: update dependenc"])
            || (starts(["bump ", "bumps "]) && !starts(["bump version", "bump to v", "bump the version"]))
            || (starts(["update ", "upgrade "]) && l.contains(" from ") && l.contains(" to ") && words.contains { isVersion($0) })
        {
            return .dependency
        }
        if starts(["chore(release", "release:", "release(", "[release]", "bump version", "version bump", "bump to v", "bump the version",
            "new version", "new release", "prepare release", "prepare for release", "preparing release", "cut release", "publish v",
            "tag v", "release v", "release version"])
            || isReleaseOnly(words)
        {
            return .release
        }
        if has(["readme", "typo", "changelog", "change log", "licence", "license", "contributing.md", "code of conduct", "spelling",
            "grammar"])
            || starts(["docs", "doc:", "doc(", "doc ", "documentation", "document ", "update docs", "fix docs", "add docs", "update doc"])
        {
            return .docs
        }
        return isTrivial(l, words) ? .trivial : nil
    }

    /// "1.2", "v1.2.3", "2.0.0-rc1", "1.2.3," — digits with at least one dot, an optional leading "v".
    static func isVersion(_ word: String) -> Bool {
        var w = Substring(word).trimmingCharacters(in: CharacterSet(charactersIn: ",;:()[]'\"`"))[...]
        if w.hasPrefix("v") { w = w.dropFirst() }
        let core = w.prefix { $0.isNumber || $0 == "." }
        return core.first?.isNumber == true && core.contains(".") && core.split(separator: ".").allSatisfy { !$0.isEmpty }
    }

    /// A title that is a version and release words only: "v1.2.3", "Release 1.2", "1.4.0 release".
    static func isReleaseOnly(_ words: [String]) -> Bool {
        let vocabulary: Set<String> = [
            "bump", "version", "to", "release", "releases", "released", "prepare", "preparing", "for", "v", "tag", "tagged", "cut", "new",
            "chore(release):", "chore:", "build:", "release:", "version:", "publish", "published", "update", "updated", "set", "the", "and",
            "pre-release", "prerelease", "-", "🔖",
        ]
        guard words.contains(where: isVersion) else { return false }
        return words.allSatisfy { isVersion($0) || vocabulary.contains($0) }
    }

    static func isTrivial(_ l: String, _ words: [String]) -> Bool {
        if l.filter(\.isLetter).count < 4 { return true }  // ".", "wip", "fix", "v2"
        if let first = words.first, ["wip", "wip:", "[wip]", "tmp", "temp", "fixup!", "squash!", "amend!", "chore:", "style:", "format:"]
            .contains(first) || first.hasPrefix("chore(") || first.hasPrefix("style(")
        {
            return true
        }
        if words.count == 1 { return true }  // "Refactor", "Cleanup", "Update"
        let stripped = l.trimmingCharacters(in: CharacterSet.punctuationCharacters.union(.whitespaces))
        let empty: Set<String> = [
            "minor fixes", "minor fix", "minor changes", "minor change", "minor update", "minor updates", "small fixes", "small fix",
            "small changes", "clean up", "code cleanup", "update code", "fix bug", "fix bugs", "bug fix", "bug fixes", "some fixes",
            "more fixes", "initial commit", "first commit", "initial import", "work in progress", "fix tests", "fix test", "update tests",
            "fix build", "fix ci", "fix lint", "fix linting", "fix formatting", "run formatter", "apply formatting", "format code",
            "reformat code", "code style", "update files", "add files", "various fixes", "misc fixes", "fix things", "more changes",
            "address review", "address review comments", "address comments", "review comments", "fix merge conflicts", "resolve conflicts",
            "fix conflicts",
        ]
        if empty.contains(stripped) { return true }
        if l.hasPrefix("add files via upload") || l.hasPrefix("deploying to") || l.hasPrefix("deploy to gh-pages") || l.hasPrefix("automated ")
            || l.hasPrefix("auto-update") || l.hasPrefix("auto update") || l.hasPrefix("run black") || l.hasPrefix("apply black")
            || l.hasPrefix("run prettier") || l.hasPrefix("reformat") || l.contains("[skip ci]") || l.contains("[ci skip]")
        {
            return true
        }
        // GitHub's web editor names the file and nothing else: "Update main.py", "Create ci.yml".
        if words.count == 2, ["update", "create", "delete", "add", "rename", "upload", "edit"].contains(words[0]),
            words[1].contains(".") || words[1].contains("/")
        {
            return true
        }
        return false
    }
}
