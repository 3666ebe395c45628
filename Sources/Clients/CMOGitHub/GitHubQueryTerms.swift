import Foundation

/// The languages and topics a GitHub repository search names (`language:python topic:cli`), so that
/// the people found through it, their score and their copy can follow what was asked for.
public struct GitHubQueryTerms: Sendable, Equatable {
    /// Lower-cased values of `language:` qualifiers, in order, without repeats (negated ones left out).
    public var languages: [String] = []
    /// Lower-cased values of `topic:` qualifiers, in order, without repeats (negated ones left out).
    public var topics: [String] = []

    public init(languages: [String] = [], topics: [String] = []) {
        self.languages = languages
        self.topics = topics
    }

    /// The terms of a search string in GitHub's syntax. Quoted values (`language:"jupyter notebook"`)
    /// and comma lists (`language:go,rust`) are read; `-language:` and `NOT` terms are not matches.
    public init(query: String) {
        for word in GitHubSearchSlice.words(query) {
            let lower = word.lowercased()
            for (prefix, keyPath) in [("language:", \Self.languages), ("topic:", \Self.topics)] where lower.hasPrefix(prefix) {
                let value = lower.dropFirst(prefix.count)
                for part in value.split(separator: ",") {
                    let term = part.trimmingCharacters(in: .init(charactersIn: "\""))
                    if !term.isEmpty, !self[keyPath: keyPath].contains(term) { self[keyPath: keyPath].append(term) }
                }
            }
        }
    }

    /// Whether a repository's language satisfies the query (any language does when the query names none).
    public func matches(language: String?) -> Bool {
        guard !languages.isEmpty else { return true }
        guard let language else { return false }
        return languages.contains(language.lowercased())
    }
}
