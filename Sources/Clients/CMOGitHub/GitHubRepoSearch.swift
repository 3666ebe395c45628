import CMOBasics
import CMOHTTP
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
/// repository emitted once. Several queries (one per language) are searched each on its own and
/// merged: `limit` is shared fairly among them, and what one cannot fill goes to the others.
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
        try run(queries: [query], limit: limit, today: today, emit: { _, item in try emit(item) }, pageDone: pageDone)[0]
    }

    /// Emits the repositories of several queries, each searched on its own (GitHub reads
    /// `language:a language:b` as both at once, which no repository is), deduplicated by id.
    /// With a `limit`, it is filled in rounds: each query still finding repositories gets an equal
    /// share of what is left, so a query with few leaves its share to the others; without one, each
    /// query is read to its end in turn. Returns how many each query emitted.
    @discardableResult
    public func run(
        queries: [String], limit: Int?, today: Int, emit: (_ query: String, JSONValue) throws -> Void,
        pageDone: () throws -> Void = {}
    ) throws -> [Int] {
        try api.preflight(["search"])
        let cursors = queries.map { Cursor(query: $0) }
        func take(_ c: Cursor, _ n: Int) throws -> Int {
            var got = 0
            while got < n {
                if c.pending.isEmpty {
                    try pageDone()  // downstream sees each page before the next is asked for
                    guard try refill(c, today: today) else { break }
                    continue
                }
                let item = c.pending.removeFirst()
                guard let id = item["id"]?.intValue, seen.insert(id).inserted else { continue }
                try emit(c.query, item)
                got += 1
            }
            c.emitted += got
            return got
        }
        guard var left = limit else {
            for c in cursors { _ = try take(c, .max) }
            try pageDone()
            return cursors.map(\.emitted)
        }
        var active = Array(cursors.indices)
        while left > 0, !active.isEmpty {
            let share = left / active.count, extra = left % active.count
            var still: [Int] = []
            for (k, i) in active.enumerated() {
                let want = share + (k < extra ? 1 : 0)
                guard want > 0 else {
                    still.append(i)
                    continue
                }
                let got = try take(cursors[i], want)
                left -= got
                if got == want { still.append(i) }  // it may have more
            }
            active = still
        }
        try pageDone()
        return cursors.map(\.emitted)
    }

    /// Where one query's search stands: the slices still to ask for, and the page being read.
    final class Cursor {
        let query: String
        var stack: [GitHubSearchSlice]
        var sliceQuery: String
        var next: String?
        var pending: [JSONValue] = []
        var emitted = 0
        init(query: String) {
            self.query = query
            stack = [GitHubSearchSlice(query: query)]
            sliceQuery = query
        }
    }

    /// Loads the cursor's next page (the next one of its slice, else the first of its next slice,
    /// splitting slices over the 1000 cap); false when its search is done.
    private func refill(_ c: Cursor, today: Int) throws -> Bool {
        if let next = c.next {
            let page = try fetch(next, query: c.sliceQuery)
            c.pending = page.json?["items"]?.arrayValue ?? []
            c.next = page.next
            return true
        }
        while let slice = c.stack.popLast() {
            var params = [("q", slice.query), ("per_page", String(perPage))]
            if let sort { params += [("sort", sort), ("order", order)] }
            let page = try fetch(api.url("/search/repositories", params), query: slice.query)
            let total = page.json?["total_count"]?.intValue ?? 0
            let items = page.json?["items"]?.arrayValue ?? []
            if total > 1000 {
                let top = sort == "stars" && order == "desc" ? items.first?["stargazers_count"]?.intValue : nil
                if let parts = slice.split(maxStarsSeen: top, today: today) {
                    splits += 1
                    logger.debug("'\(slice.query)' has \(total) results, over the 1000 cap; splitting into \(parts.map(\.query))")
                    c.stack.append(contentsOf: parts.reversed())
                    continue
                }
                cappedSlices += 1
                logger.warning("'\(slice.query)' has \(total) results and cannot be split further; only the first 1000 are reachable")
            }
            c.sliceQuery = slice.query
            c.pending = items
            c.next = page.next
            return true
        }
        return false
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
        case 200:
            guard reply.json != nil else { throw ServiceAnswer.unreadable(service: "GitHub", request: "search '\(query)'", status: 200) }
            return reply
        case 422:
            throw GitHubQueryRejected(query: query, message: reply.json?["message"]?.stringValue ?? "Validation Failed")
        default:
            throw ServiceAnswer.failure(
                service: "GitHub", request: "search '\(query)'", status: reply.status,
                said: reply.json?["message"]?.stringValue ?? "", notFound: "check GITHUB_API_URL")
        }
    }

    /// A query naming several `language:` qualifiers, as one query per language, the other words kept: a
    /// repository has one primary language, so the qualifiers read together (AND, as the sandbox reads
    /// them) find nothing, and read as alternatives they are the union of these. One language or none:
    /// the query as it is.
    public static func splitLanguages(_ query: String) -> [String] {
        let words = GitHubSearchSlice.words(query)
        func isLanguage(_ w: String) -> Bool { w.lowercased().hasPrefix("language:") }
        var seen = Set<String>()
        let languages = words.filter(isLanguage).filter { seen.insert($0.lowercased()).inserted }
        guard languages.count > 1 else { return [query] }
        let rest = words.filter { !isLanguage($0) }
        return languages.map { ([$0] + rest).joined(separator: " ") }
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
