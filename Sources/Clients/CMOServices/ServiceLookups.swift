import CMOBasics
import CMOHTTP
import Foundation

// The reads a writer's `--check` makes to find its target by name: Instantly's campaigns, Attio's
// lists, Linear's teams. Each is a plain read (GET, or a GraphQL query), so a read-only client sends it.

extension InstantlyAPI {
    /// Campaigns, 100 a page (`GET /api/v2/campaigns`), those whose name contains `search` when one is
    /// given (Instantly's own search by name), at most `limit`.
    public func campaigns(search: String? = nil, limit: Int = 1000) throws -> [InstantlyCampaign] {
        var found: [InstantlyCampaign] = []
        try eachPage("/api/v2/campaigns", query: search.map { $0.isEmpty ? [] : [("search", $0)] } ?? []) { items in
            for item in items {
                guard let id = item["id"]?.stringValue else { continue }
                found.append(Self.campaign(item, id: id))
            }
            return found.count < limit
        }
        return Array(found.prefix(limit))
    }
}

extension AttioAPI {
    /// `GET /v2/lists/{list}` by id or api_slug; nil when Attio answers 404.
    public func listIfExists(_ idOrSlug: String) throws -> AttioListInfo? {
        let path = "/v2/lists/\(ServiceEndpoint.encode(idOrSlug))"
        let response = try send(endpoint.request("GET", path))
        if response.status == 404 { return nil }
        let data = try Self.decode(response, what: "GET \(path)")["data"] ?? .null
        return AttioListInfo(
            id: data["id"]?["list_id"]?.stringValue ?? idOrSlug, slug: data["api_slug"]?.stringValue ?? idOrSlug,
            name: data["name"]?.stringValue ?? idOrSlug, parentObjects: (data["parent_object"]?.arrayValue ?? []).compactMap(\.stringValue))
    }

    /// Every list of the workspace (`GET /v2/lists`).
    public func lists() throws -> [AttioListInfo] {
        let response = try send(endpoint.request("GET", "/v2/lists"))
        let json = try Self.decode(response, what: "GET /v2/lists")
        return (json["data"]?.arrayValue ?? []).compactMap { data in
            guard let id = data["id"]?["list_id"]?.stringValue else { return nil }
            return AttioListInfo(
                id: id, slug: data["api_slug"]?.stringValue ?? "", name: data["name"]?.stringValue ?? "",
                parentObjects: (data["parent_object"]?.arrayValue ?? []).compactMap(\.stringValue))
        }
    }
}

extension LinearAPI {
    /// Every team the key can see, 100 a page.
    public static let allTeams =
        "query Teams($first: Int!, $after: String) { teams(first: $first, after: $after) { nodes { id key name } pageInfo { hasNextPage endCursor } } }"

    /// Every team the key can see (at most 2,000).
    public func teams() throws -> [LinearTeam] {
        var found: [LinearTeam] = []
        var cursor: String?
        for _ in 0..<20 {
            var variables = [JSONMember("first", .int(100))]
            if let cursor { variables.append(JSONMember("after", .string(cursor))) }
            let r = try send(Self.allTeams, variables, name: "Teams")
            try Self.throwIfFailed(r, what: "teams")
            let connection = r.data?["teams"]
            found += (connection?["nodes"]?.arrayValue ?? []).compactMap(Self.team)
            guard connection?["pageInfo"]?["hasNextPage"]?.boolValue == true,
                let next = connection?["pageInfo"]?["endCursor"]?.stringValue, next != cursor
            else { break }
            cursor = next
        }
        return found
    }
}
