import CMOBasics
import CMOHTTP

/// What keeps a writer's `--check` from writing: an API client marked `readOnly` (`InstantlyAPI`,
/// `AttioAPI`, `LinearAPI`) passes every request through here before it is sent, and only reads
/// pass: `GET` and `HEAD`, and for a GraphQL API a `query` document (never a `mutation`). Anything
/// else stops the stage with an internal error (status 1) and nothing is sent, whatever code asked.
enum ReadOnlyGuard {
    static func check(_ request: HTTPRequest, readOnly: Bool, graphQLDocument: String? = nil) throws(ReadOnlyViolation) {
        guard readOnly else { return }
        if request.method == "GET" || request.method == "HEAD" { return }
        if let document = graphQLDocument, isQuery(document) { return }
        throw ReadOnlyViolation(method: request.method, url: request.url)
    }

    /// Whether a GraphQL document holds only queries (no `mutation` or `subscription` operation).
    static func isQuery(_ document: String) -> Bool {
        let words = document.split(whereSeparator: { !($0.isLetter || $0.isNumber || $0 == "_") })
        guard let first = words.first, first == "query" || document.trimmingCharacters(in: .whitespaces).hasPrefix("{") else { return false }
        return !words.contains("mutation") && !words.contains("subscription")
    }
}

/// A request a read-only client (a `--check`) refused to send.
public struct ReadOnlyViolation: CMOError {
    public let method: String
    public let url: String
    public var exitStatus: ExitStatus { .failure }
    public var description: String {
        let path = url.split(separator: "?").first.map(String.init) ?? url
        return "internal error: a read-only check tried \(method) \(path); nothing was sent"
    }
}
