import Foundation

// The seam between the HTTP server and what answers it (the sandbox's services, cmo-hooks' receiver):
// handlers see plain values, never sockets, so each can be unit-tested without one.

/// One HTTP request as a handler sees it.
public struct HTTPServerRequest: Sendable {
    /// `GET`, `POST`, … (upper case).
    public var method: String
    /// The path without the query string, percent-decoded (`/repos/o/r/commits`).
    public var path: String
    /// Query parameters in order, percent-decoded (`+` is a space).
    public var query: [(name: String, value: String)]
    /// Header names lower-cased; a repeated header keeps its last value.
    public var headers: [String: String]
    /// The raw request body.
    public var body: [UInt8]
    /// The full original target (path and query) as sent, for `Link` headers and ETags.
    public var target: String
    /// Requests to this service in flight when this one arrived, itself included (set by the sandbox's
    /// router; secondary rate limits on concurrency read it).
    public var inFlight: Int = 1

    public init(
        method: String, path: String, query: [(name: String, value: String)] = [],
        headers: [String: String] = [:], body: [UInt8] = [], target: String? = nil
    ) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.target = target ?? path
    }

    /// A header's value by case-insensitive name.
    public func header(_ name: String) -> String? { headers[name.lowercased()] }

    /// The last value of a query parameter.
    public func queryValue(_ name: String) -> String? { query.last(where: { $0.name == name })?.value }
}

/// One HTTP response.
public struct HTTPServerResponse: Sendable {
    public var status: Int
    /// Header names as they should be sent (lower case, like GitHub's).
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A JSON response from a JSONSerialization-compatible value (dictionaries are written with sorted keys,
    /// so the same input gives byte-identical bodies).
    public static func json(_ status: Int, _ object: Any, headers: [(name: String, value: String)] = []) -> HTTPServerResponse {
        let data =
            (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .fragmentsAllowed, .withoutEscapingSlashes]))
            ?? Data("null".utf8)
        return HTTPServerResponse(
            status: status, headers: [("content-type", "application/json; charset=utf-8")] + headers, body: Array(data))
    }

    /// The value of a header by case-insensitive name.
    public func header(_ name: String) -> String? {
        let n = name.lowercased()
        return headers.last(where: { $0.name.lowercased() == n })?.value
    }
}

/// What the server does with one request.
public enum ServerOutcome: Sendable {
    /// Send the response.
    case respond(HTTPServerResponse)
    /// Send the response's headers (full `Content-Length`) and only part of its body, then close.
    case truncate(HTTPServerResponse)
    /// Reset the connection (RST) without answering.
    case reset
}

/// The server could not start.
public struct ServerError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
