import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Reads HTTP/1.1 requests off one connected socket (keep-alive: many requests per connection).
struct HTTPRequestReader {
    let fd: Int32
    private var buffer: [UInt8] = []
    private static let maxHeaderBytes = 64 * 1024
    /// The largest body read (nil: no limit); a larger one ends the connection with `bodyTooLarge` set.
    let maxBodyBytes: Int?
    /// Set when `next()` returned nil because the body was over `maxBodyBytes` (the server answers 413).
    private(set) var bodyTooLarge = false

    init(fd: Int32, maxBodyBytes: Int? = nil) {
        self.fd = fd
        self.maxBodyBytes = maxBodyBytes
    }

    /// Called when the first byte of a request has arrived (the request is in flight from then on).
    var onRequestStart: (() -> Void)?

    /// The next request, or nil when the peer closed the connection (or sent garbage).
    mutating func next() -> (request: HTTPServerRequest, keepAlive: Bool)? {
        if buffer.isEmpty, !readMore() { return nil }
        onRequestStart?()
        guard let headerEnd = readUntilHeaderEnd() else { return nil }
        let head = String(decoding: buffer[..<headerEnd], as: UTF8.self)
        buffer.removeFirst(headerEnd + 4)
        var lines = head.components(separatedBy: "\r\n")
        let requestLine = lines.removeFirst().split(separator: " ", omittingEmptySubsequences: true)
        guard requestLine.count == 3 else { return nil }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
            headers[name] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let declaredLength = headers["content-length"].flatMap(Int.init) ?? 0
        if let limit = maxBodyBytes, declaredLength > limit {
            bodyTooLarge = true  // not read, no 100 Continue: the connection closes after the 413
            return nil
        }
        if headers["expect"]?.lowercased() == "100-continue" {
            // libcurl asks before sending a large body and otherwise waits a second for this.
            _ = HTTPResponseWriter.sendAll(fd, Array("HTTP/1.1 100 Continue\r\n\r\n".utf8))
        }
        var body: [UInt8] = []
        if headers["transfer-encoding"]?.lowercased().contains("chunked") == true {
            guard let b = readChunked() else { return nil }
            body = b
        } else if let len = headers["content-length"].flatMap(Int.init), len > 0 {
            guard fill(to: len) else { return nil }
            body = Array(buffer[..<len])
            buffer.removeFirst(len)
        }
        let version = String(requestLine[2]).uppercased()
        let connection = headers["connection"]?.lowercased() ?? ""
        let keepAlive = version == "HTTP/1.0" ? connection.contains("keep-alive") : !connection.contains("close")
        let target = String(requestLine[1])
        let (path, query) = Self.splitTarget(target)
        let request = HTTPServerRequest(
            method: String(requestLine[0]).uppercased(), path: path, query: query, headers: headers, body: body,
            target: target)
        return (request, keepAlive)
    }

    /// Splits `/a%20b?x=1&y=a+b` into a decoded path and decoded query pairs.
    static func splitTarget(_ target: String) -> (String, [(name: String, value: String)]) {
        var pathPart = Substring(target)
        var queryPart: Substring = ""
        if let q = target.firstIndex(of: "?") {
            pathPart = target[..<q]
            queryPart = target[target.index(after: q)...]
        }
        if let scheme = pathPart.range(of: "://") {  // absolute-form target
            let rest = pathPart[scheme.upperBound...]
            pathPart = rest.firstIndex(of: "/").map { rest[$0...] } ?? "/"
        }
        let path = String(pathPart).removingPercentEncoding ?? String(pathPart)
        var query: [(name: String, value: String)] = []
        for pair in queryPart.split(separator: "&") where !pair.isEmpty {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String {
                let plus = s.replacingOccurrences(of: "+", with: " ")
                return plus.removingPercentEncoding ?? plus
            }
            query.append((decode(kv[0]), kv.count > 1 ? decode(kv[1]) : ""))
        }
        return (path, query)
    }

    private mutating func readUntilHeaderEnd() -> Int? {
        var searchFrom = 0
        while true {
            if buffer.count >= 4 {
                var i = max(0, searchFrom - 3)
                while i + 3 < buffer.count {
                    if buffer[i] == 13 && buffer[i + 1] == 10 && buffer[i + 2] == 13 && buffer[i + 3] == 10 { return i }
                    i += 1
                }
                searchFrom = buffer.count
            }
            if buffer.count > Self.maxHeaderBytes || !readMore() { return nil }
        }
    }

    private mutating func fill(to count: Int) -> Bool {
        while buffer.count < count { if !readMore() { return false } }
        return true
    }

    private mutating func readLine() -> String? {
        while true {
            if let i = buffer.indices.dropLast().first(where: { buffer[$0] == 13 && buffer[$0 + 1] == 10 }) {
                let line = String(decoding: buffer[..<i], as: UTF8.self)
                buffer.removeFirst(i + 2)
                return line
            }
            if !readMore() { return nil }
        }
    }

    private mutating func readChunked() -> [UInt8]? {
        var body: [UInt8] = []
        while true {
            guard let sizeLine = readLine(), let sizeField = sizeLine.split(separator: ";").first,
                let size = Int(sizeField.trimmingCharacters(in: .whitespaces), radix: 16), size >= 0
            else { return nil }
            if size == 0 {
                while let trailer = readLine(), !trailer.isEmpty {}
                return body
            }
            if let limit = maxBodyBytes, body.count + size > limit {
                bodyTooLarge = true
                return nil
            }
            guard fill(to: size + 2) else { return nil }
            body += buffer[..<size]
            buffer.removeFirst(size + 2)
        }
    }

    private mutating func readMore() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n <= 0 { return false }
        buffer += chunk[..<n]
        return true
    }
}

/// Serialises responses onto a socket.
public enum HTTPResponseWriter {
    /// Writes `response`; with `truncateBody` only half of the body follows the full `Content-Length`.
    /// Returns false when the peer is gone.
    static func write(
        _ response: HTTPServerResponse, to fd: Int32, keepAlive: Bool, headOnly: Bool, truncateBody: Bool = false
    ) -> Bool {
        var head = "HTTP/1.1 \(response.status) \(reason(response.status))\r\n"
        for (name, value) in response.headers where name.lowercased() != "content-length" {
            head += "\(name): \(value.replacingOccurrences(of: "\r", with: "").replacingOccurrences(of: "\n", with: ""))\r\n"
        }
        let noBody = response.status == 304 || response.status == 204 || (100..<200).contains(response.status)
        if !noBody { head += "content-length: \(response.body.count)\r\n" }
        head += keepAlive ? "connection: keep-alive\r\n\r\n" : "connection: close\r\n\r\n"
        var bytes = Array(head.utf8)
        if !headOnly && !noBody {
            bytes += truncateBody ? response.body.prefix(response.body.count / 2) : response.body[...]
        }
        return sendAll(fd, bytes)
    }

    static func sendAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            sent += n
        }
        return true
    }

    /// The reason phrase sent after a status code.
    public static func reason(_ status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 201: return "Created"
        case 202: return "Accepted"
        case 204: return "No Content"
        case 304: return "Not Modified"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 402: return "Payment Required"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 409: return "Conflict"
        case 413: return "Content Too Large"
        case 422: return "Unprocessable Entity"
        case 429: return "Too Many Requests"
        case 500: return "Internal Server Error"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Timeout"
        default: return "Status \(status)"
        }
    }
}
