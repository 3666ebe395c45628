import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A minimal blocking HTTP/1.1 client on POSIX sockets, so tests see exactly what the sandbox sends
/// (304s untouched, resets and short bodies as errors), one connection per request unless reused.
enum TestHTTP {
    struct Response {
        var status: Int
        /// Lower-cased names; a repeated header keeps its last value.
        var headers: [String: String]
        var body: [UInt8]
        var text: String { String(decoding: body, as: UTF8.self) }
        func object() throws -> [String: Any] {
            guard let o = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else {
                throw SandboxTestError("not a JSON object: \(text.prefix(200))")
            }
            return o
        }
        func array() throws -> [[String: Any]] {
            guard let a = try JSONSerialization.jsonObject(with: Data(body)) as? [[String: Any]] else {
                throw SandboxTestError("not a JSON array: \(text.prefix(200))")
            }
            return a
        }
    }

    enum Failure: Error {
        case connect, reset, truncated(expected: Int, got: Int), malformed
    }

    /// One request on a fresh connection (`Connection: close`).
    static func request(_ method: String, _ url: String, headers: [String: String] = [:], body: [UInt8] = []) throws -> Response {
        let conn = try Connection(url: url)
        defer { conn.close() }
        return try conn.send(method, url, headers: headers.merging(["Connection": "close"]) { a, _ in a }, body: body)
    }

    /// A keep-alive connection for several requests.
    final class Connection {
        let fd: Int32
        private var buffer: [UInt8] = []

        init(url: String) throws {
            let hostPort = url.components(separatedBy: "://")[1].components(separatedBy: "/")[0]
            let port = UInt16(hostPort.components(separatedBy: ":")[1])!
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = port.bigEndian
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            let r = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            if r != 0 {
                Glibc.close(fd)
                throw Failure.connect
            }
            var timeout = timeval(tv_sec: 10, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }

        func close() { Glibc.close(fd) }

        func send(_ method: String, _ url: String, headers: [String: String] = [:], body: [UInt8] = []) throws -> Response {
            let afterScheme = url.components(separatedBy: "://")[1]
            let slash = afterScheme.firstIndex(of: "/") ?? afterScheme.endIndex
            let host = String(afterScheme[..<slash])
            let target = slash == afterScheme.endIndex ? "/" : String(afterScheme[slash...])
            var head = "\(method) \(target) HTTP/1.1\r\nHost: \(host)\r\nUser-Agent: cmo-sandbox-tests\r\n"
            for (k, v) in headers { head += "\(k): \(v)\r\n" }
            if !body.isEmpty || method == "POST" { head += "Content-Length: \(body.count)\r\nContent-Type: application/json\r\n" }
            let bytes = Array((head + "\r\n").utf8) + body
            var sent = 0
            while sent < bytes.count {
                let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
                if n <= 0 { throw Failure.reset }
                sent += n
            }
            while true {
                if let end = find([13, 10, 13, 10]) {
                    let headText = String(decoding: buffer[..<end], as: UTF8.self)
                    buffer.removeFirst(end + 4)
                    var lines = headText.components(separatedBy: "\r\n")
                    let status = Int(lines.removeFirst().split(separator: " ")[1]) ?? 0
                    if (100..<200).contains(status) { continue }  // interim (100 Continue): the answer follows
                    var hs: [String: String] = [:]
                    for l in lines {
                        guard let c = l.firstIndex(of: ":") else { continue }
                        hs[l[..<c].lowercased()] = l[l.index(after: c)...].trimmingCharacters(in: .whitespaces)
                    }
                    let length = method == "HEAD" || status == 304 ? 0 : Int(hs["content-length"] ?? "0") ?? 0
                    while buffer.count < length {
                        if try !readMore() { throw Failure.truncated(expected: length, got: buffer.count) }
                    }
                    let b = Array(buffer[..<length])
                    buffer.removeFirst(length)
                    return Response(status: status, headers: hs, body: b)
                }
                if try !readMore() { throw buffer.isEmpty ? Failure.reset : Failure.malformed }
            }
        }

        private func find(_ needle: [UInt8]) -> Int? {
            guard buffer.count >= needle.count else { return nil }
            for i in 0...(buffer.count - needle.count) where buffer[i] == needle[0] && Array(buffer[i..<(i + needle.count)]) == needle {
                return i
            }
            return nil
        }

        /// False on orderly EOF; throws on a reset.
        private func readMore() throws -> Bool {
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 { throw errno == ECONNRESET ? Failure.reset : Failure.malformed }
            if n == 0 { return false }
            buffer += chunk[..<n]
            return true
        }
    }
}
