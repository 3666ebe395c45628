/// REST pagination as GitHub does it: `per_page` (default 30, at most 100), `page` (default 1), and a
/// `Link` header with absolute URLs built from the request's `Host`, in the order prev, next, last, first.
struct GitHubPage {
    var perPage: Int
    var page: Int

    init(_ request: SandboxRequest) {
        let per = request.queryValue("per_page").flatMap(Int.init) ?? 30
        perPage = per < 1 ? 30 : min(per, 100)
        let p = request.queryValue("page").flatMap(Int.init) ?? 1
        page = min(max(p, 1), 1_000_000_000)  // no overflow in page × per_page
    }

    /// The slice of `items` on this page.
    func slice<T>(_ items: [T]) -> ArraySlice<T> {
        let start = (page - 1) * perPage
        guard start < items.count else { return [] }
        return items[start..<min(items.count, start + perPage)]
    }

    /// The `Link` header for a listing whose last page is `lastPage`, or nil when everything fits on one page.
    func linkHeader(_ request: SandboxRequest, lastPage: Int) -> (name: String, value: String)? {
        guard lastPage > 1 || page > 1 else { return nil }
        let host = request.header("host") ?? "127.0.0.1"
        var links: [String] = []
        func url(_ n: Int) -> String { "<http://\(host)\(Self.target(request.target, page: n))>" }
        if page > 1 { links.append("\(url(min(page - 1, max(lastPage, 1)))); rel=\"prev\"") }
        if page < lastPage {
            links.append("\(url(page + 1)); rel=\"next\"")
            links.append("\(url(lastPage)); rel=\"last\"")
        }
        if page > 1 { links.append("\(url(1)); rel=\"first\"") }
        return links.isEmpty ? nil : ("link", links.joined(separator: ", "))
    }

    /// The request target with its `page` parameter set to `n` (kept in place, or appended).
    static func target(_ target: String, page n: Int) -> String {
        guard let q = target.firstIndex(of: "?") else { return "\(target)?page=\(n)" }
        var parts = target[target.index(after: q)...].split(separator: "&", omittingEmptySubsequences: false).map(String.init)
        if let i = parts.firstIndex(where: { $0.hasPrefix("page=") || $0 == "page" }) {
            parts[i] = "page=\(n)"
        } else {
            parts.append("page=\(n)")
        }
        return "\(target[..<q])?\(parts.joined(separator: "&"))"
    }

    /// The number of pages for `count` items (at least 1).
    func pages(_ count: Int) -> Int { max(1, (count + perPage - 1) / perPage) }
}
