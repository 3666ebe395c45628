import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// The HTTP server's wire behaviour: chunked request bodies, pipelined requests, HEAD, unknown paths.
final class SandboxServerTests: XCTestCase {
    nonisolated(unsafe) static var sandbox: SandboxProcess?
    var sbx: SandboxProcess { Self.sandbox! }

    override class func setUp() { sandbox = try? SandboxProcess(["--repos", "10", "--users", "20"]) }
    override class func tearDown() { sandbox?.stop() }
    override func setUpWithError() throws { if Self.sandbox == nil { throw SandboxTestError("sandbox failed to start") } }

    /// Sends raw bytes and reads until the server closes.
    func raw(_ text: String) throws -> String {
        let conn = try TestHTTP.Connection(url: sbx.base)
        defer { conn.close() }
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { send(conn.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(conn.fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            out += chunk[..<n]
        }
        return String(decoding: out, as: UTF8.self)
    }

    func testChunkedRequestBody() throws {
        let json = #"{"query":"{ rateLimit { cost } }"}"#
        let half = json.utf8.count / 2
        let first = String(json.prefix(half))
        let second = String(json.dropFirst(half))
        let text = try raw(
            "POST /github/graphql HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\nAuthorization: Bearer \(sbx.token)\r\n"
                + "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                + "\(String(first.utf8.count, radix: 16))\r\n\(first)\r\n\(String(second.utf8.count, radix: 16))\r\n\(second)\r\n0\r\n\r\n")
        XCTAssertTrue(text.hasPrefix("HTTP/1.1 200 OK\r\n"), text)
        XCTAssertTrue(text.hasSuffix(#"{"data":{"rateLimit":{"cost":1}}}"#), text)
    }

    func testPipelinedRequestsAnsweredInOrder() throws {
        let text = try raw(
            "GET /_sandbox/stats HTTP/1.1\r\nHost: x\r\n\r\nGET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n"
                + "HEAD /_sandbox/stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        let statuses = text.components(separatedBy: "HTTP/1.1 ").dropFirst().map { "HTTP/1.1 " + $0.components(separatedBy: "\r\n")[0] }
        XCTAssertEqual(statuses, ["HTTP/1.1 200 OK", "HTTP/1.1 404 Not Found", "HTTP/1.1 200 OK"])
        XCTAssertTrue(text.hasSuffix("connection: close\r\n\r\n"), "HEAD has headers only")
    }

    func testHTTP10ClosesUnlessKeepAlive() throws {
        let text = try raw("GET /_sandbox/stats HTTP/1.0\r\n\r\n")
        XCTAssertTrue(text.contains("connection: close\r\n"))
    }
}
