import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// What the server does with one request.
public enum ServerOutcome: Sendable {
    /// Send the response.
    case respond(SandboxResponse)
    /// Send the response's headers (full `Content-Length`) and only part of its body, then close.
    case truncate(SandboxResponse)
    /// Reset the connection (RST) without answering.
    case reset
}

/// An HTTP/1.1 server on 127.0.0.1 over plain POSIX sockets: one thread per connection, so a slow
/// (latency-injected) answer never holds up another client, keep-alive, and the two faults an HTTP
/// library cannot produce on purpose: a connection reset and a body shorter than its `Content-Length`.
/// (A server library such as FlyingFox always writes whole responses and binds `::1` for loopback.)
public final class SandboxServer: @unchecked Sendable {
    /// The port actually bound (useful with port 0).
    public let port: UInt16
    private let listenFD: Int32
    private let handler: @Sendable (SandboxRequest) -> ServerOutcome
    private let lock = NSLock()
    private var stopped = false
    private var connections: Set<Int32> = []

    /// Binds 127.0.0.1:`port` (0 picks a free port) and starts accepting.
    public init(port: UInt16, handler: @escaping @Sendable (SandboxRequest) -> ServerOutcome) throws {
        self.handler = handler
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ServerError(message: "socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 1024) == 0 else {
            let message = String(cString: strerror(errno))
            close(fd)
            throw ServerError(message: "cannot listen on 127.0.0.1:\(port): \(message)")
        }
        var actual = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        self.port = UInt16(bigEndian: actual.sin_port)
        self.listenFD = fd
        let accepting = Thread { [self] in acceptLoop() }
        accepting.name = "sandbox-accept"
        accepting.start()
    }

    /// Stops accepting and closes every open connection.
    public func stop() {
        let open: Set<Int32> = lock.withLock {
            if stopped { return [] }
            stopped = true
            return connections
        }
        shutdown(listenFD, Int32(SHUT_RDWR))
        close(listenFD)
        for fd in open { shutdown(fd, Int32(SHUT_RDWR)) }
    }

    private func acceptLoop() {
        while true {
            let fd = accept(listenFD, nil, nil)
            if fd < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                return
            }
            let accepted: Bool = lock.withLock {
                if stopped { return false }
                connections.insert(fd)
                return true
            }
            guard accepted else {
                close(fd)
                return
            }
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            var idle = timeval(tv_sec: 120, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &idle, socklen_t(MemoryLayout<timeval>.size))
            let worker = Thread { [self] in serve(fd) }
            worker.stackSize = 8 << 20  // deep GraphQL documents recurse in the parser
            worker.start()
        }
    }

    private func serve(_ fd: Int32) {
        defer {
            lock.withLock { _ = connections.remove(fd) }
            close(fd)
        }
        var reader = HTTPRequestReader(fd: fd)
        while let (request, keepAlive) = reader.next() {
            let headOnly = request.method == "HEAD"
            switch handler(request) {
            case .respond(let response):
                guard HTTPResponseWriter.write(response, to: fd, keepAlive: keepAlive, headOnly: headOnly), keepAlive
                else { return }
            case .truncate(let response):
                _ = HTTPResponseWriter.write(response, to: fd, keepAlive: true, headOnly: headOnly, truncateBody: true)
                return
            case .reset:
                var hard = linger(l_onoff: 1, l_linger: 0)  // close() then sends RST, not FIN
                setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, socklen_t(MemoryLayout<linger>.size))
                return
            }
        }
    }
}

/// The server could not start.
public struct ServerError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
