import CMOBasics
import Foundation

/// The name a greeting may use: the first word of a profile name when it looks like a person's,
/// else none. Never a login: "Hi ssilva4712," reads as a mail merge, "Hi there," does not.
///
/// A first name is letters (with an inner `'` or `-`: "Jean-Luc", "D'Arcy"), at least two of them,
/// not an honorific ("Dr."), not the login, from a name without words an organisation or a project
/// goes by ("Acme Labs", "The Rust Team", "Open Source Dev"). A single all-lower-case word ("neo")
/// is a handle more often than a name; two lower-case words ("ada lovelace") are a name, capitalised.
public enum GreetingName {
    /// Words that make a profile name an organisation's, a project's or a role's.
    static let organisationWords: Set<String> = [
        "the", "team", "inc", "llc", "ltd", "gmbh", "labs", "lab", "group", "org", "foundation", "project", "projects", "dev", "devs",
        "developer", "developers", "official", "bot", "admin", "support", "community", "company", "corp", "corporation", "studio",
        "studios", "software", "systems", "solutions", "technologies", "tech", "hq", "io", "oss", "github", "open", "source", "co",
        "consulting", "digital", "media", "games", "network", "services", "academy", "university", "institute", "club", "collective",
        "crew", "apps", "code", "coder", "coding", "hacker", "hackers", "maintainers", "contributors", "mirror", "archive", "data", "ai",
        "cloud", "server", "app", "sa", "ag", "bv", "ab", "pty", "plc", "srl", "sas", "oy", "as", "kk",
    ]
    static let honorifics: Set<String> = ["mr", "mrs", "ms", "miss", "dr", "prof", "sir", "madam", "mx", "herr", "frau"]

    /// The first name to greet, or nil when the name does not look like a person's (or is the login).
    public static func firstName(of name: String?, login: String?) -> String? {
        guard let name else { return nil }
        let words = TextCleaning.oneLine(name).split(whereSeparator: \.isWhitespace).map {
            $0.trimmingCharacters(in: CharacterSet(charactersIn: "\"'`“”‘’()[]{},;:!?<>"))
        }.filter { !$0.isEmpty }
        guard var first = words.first else { return nil }
        let lowered = words.map { $0.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: ".")) }
        if lowered.contains(where: organisationWords.contains) || honorifics.contains(lowered[0]) { return nil }
        guard first.count >= 2, first.first!.isLetter, first.last!.isLetter,
            first.allSatisfy({ $0.isLetter || $0 == "'" || $0 == "’" || $0 == "-" })
        else { return nil }
        // The login is no name ("Ada" for the login "ada", "ssilva" for "ssilva"); a login made of
        // the name ("zoepetrov" for "Zoe Petrov") takes nothing from the name.
        if let login {
            let handle = login.lowercased()
            if first.lowercased() == handle || words.joined(separator: " ").lowercased() == handle { return nil }
        }
        if first == first.lowercased(), first != first.uppercased() {  // lower case, and the script has case
            guard words.count >= 2 else { return nil }
            first = first.prefix(1).uppercased() + first.dropFirst()
        }
        return first
    }
}
