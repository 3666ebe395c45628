import CMOBasics
import Foundation

/// GitHub refused a search query (422): a bad qualifier, too long, too many operators.
public struct GitHubQueryRejected: CMOError {
    public let query: String
    public let message: String
    public var exitStatus: ExitStatus { .usage }
    public var description: String { "GitHub rejected the query '\(query)': \(message)" }
}

/// Streams repositories from `GET /search/repositories`: pages followed through `Link`, queries
/// past 1,000 results split into star and creation-date slices (no overlap, no gap), every
/// repository emitted once.
public final class GitHubRepoSearch {
    let api: GitHubAPI
    let logger: Logger
    /// `stars`, `updated`, … or nil for best match; `order` applies only with a sort.
    public var sort: String?
    public var order = "desc"
    public var perPage = 100
    public private(set) var pages = 0
    public private(set) var splits = 0
    public private(set) var incompletePages = 0
    public private(set) var cappedSlices = 0
    private var seen = Set<Int>()

    public init(api: GitHubAPI, logger: Logger) {
        self.api = api
        self.logger = logger
    }

    /// Emits each repository of `query` (search items as GitHub sent them), at most `limit`.
    /// Returns how many were emitted.
    @discardableResult
    public func run(
        query: String, limit: Int?, today: Int, emit: (JSONValue) throws -> Void, pageDone: () throws -> Void = {}
    ) throws -> Int {
        try api.preflight(["search"])
        var stack = [GitHubSearchSlice(query: query)]
        var emitted = 0
        while let slice = stack.popLast() {
            if let limit, emitted >= limit { break }
            var params = [("q", slice.query), ("per_page", String(perPage))]
            if let sort { params += [("sort", sort), ("order", order)] }
            var page = try fetch(api.url("/search/repositories", params), query: slice.query)
            let total = page.json?["total_count"]?.intValue ?? 0
            let items = page.json?["items"]?.arrayValue ?? []
            if total > 1000 {
                let top = sort == "stars" && order == "desc" ? items.first?["stargazers_count"]?.intValue : nil
                if let parts = slice.split(maxStarsSeen: top, today: today) {
                    splits += 1
                    logger.debug("'\(slice.query)' has \(total) results, over the 1000 cap; splitting into \(parts.map(\.query))")
                    stack.append(contentsOf: parts.reversed())
                    continue
                }
                cappedSlices += 1
                logger.warning("'\(slice.query)' has \(total) results and cannot be split further; only the first 1000 are reachable")
            }
            while true {
                for item in page.json?["items"]?.arrayValue ?? [] {
                    guard let id = item["id"]?.intValue, seen.insert(id).inserted else { continue }
                    try emit(item)
                    emitted += 1
                    if let limit, emitted >= limit { return emitted }
                }
                try pageDone()
                guard let next = page.next else { break }
                page = try fetch(next, query: slice.query)
            }
        }
        return emitted
    }

    private func fetch(_ url: String, query: String) throws -> RESTReply {
        var reply = try api.get([url], bucket: "search")[0]
        pages += 1
        if reply.status == 200, reply.json?["incomplete_results"]?.boolValue == true {
            // GitHub timed out and returned a part; asking again usually gets all of it.
            incompletePages += 1
            logger.warning("search page came back incomplete; asking once more: \(query)")
            let again = try api.get([url], bucket: "search")[0]
            pages += 1
            if again.status == 200 { reply = again }
        }
        switch reply.status {
        case 200: return reply
        case 422:
            throw GitHubQueryRejected(query: query, message: reply.json?["message"]?.stringValue ?? "Validation Failed")
        default:
            throw StageFailure(.unavailable, "GitHub search answered HTTP \(reply.status) for '\(query)'")
        }
    }

    /// The fields gh-search owns, from one search item.
    public static func repoFields(_ item: JSONValue, query: String) -> [(String, JSONValue)] {
        [
            ("kind", "repo"), ("id", item["id"] ?? .null), ("full_name", item["full_name"] ?? .null),
            ("stars", item["stargazers_count"] ?? .null), ("language", item["language"] ?? .null),
            ("topics", item["topics"] ?? .array([])), ("pushed_at", item["pushed_at"] ?? .null),
            ("description", item["description"] ?? .null), ("html_url", item["html_url"] ?? .null),
            ("query", .string(query)),
        ]
    }
}
