import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// An HTTP/1.1 server over plain POSIX sockets: one thread per connection, so a slow answer never holds
/// up another client, keep-alive, an optional body limit (413), a graceful stop that lets requests being
/// answered finish, and the two faults an HTTP library cannot produce on purpose (the sandbox's): a
/// connection reset and a body shorter than its `Content-Length`.
/// (A server library such as FlyingFox always writes whole responses and binds `::1` for loopback.)
public final class HTTPServer: @unchecked Sendable {
    /// The port actually bound (useful with port 0).
    public let port: UInt16
    /// The IPv4 address bound (`127.0.0.1` unless asked otherwise).
    public let bindAddress: String
    private let listenFD: Int32
    private let maxBodyBytes: Int?
    private let handler: @Sendable (HTTPServerRequest) -> ServerOutcome
    private let lock = NSLock()
    private var stopped = false
    private var draining = false
    private var connections: Set<Int32> = []
    /// Connections with a request in flight: from its first byte until its response is written.
    private var answering: Set<Int32> = []

    /// Binds `bindAddress`:`port` (0 picks a free port) and starts accepting. A body over `maxBodyBytes`
    /// is not read: the server answers 413 and closes the connection.
    public init(
        port: UInt16, bindAddress: String = "127.0.0.1", maxBodyBytes: Int? = nil,
        handler: @escaping @Sendable (HTTPServerRequest) -> ServerOutcome
    ) throws {
        self.handler = handler
        self.maxBodyBytes = maxBodyBytes
        self.bindAddress = bindAddress
        var address = in_addr()
        guard inet_pton(AF_INET, bindAddress, &address) == 1 else {
            throw ServerError(message: "not an IPv4 address to bind: \(bindAddress)")
        }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ServerError(message: "socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr = address
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 1024) == 0 else {
            let message = String(cString: strerror(errno))
            close(fd)
            throw ServerError(message: "cannot listen on \(bindAddress):\(port): \(message)")
        }
        var actual = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        self.port = UInt16(bigEndian: actual.sin_port)
        self.listenFD = fd
        let accepting = Thread { [self] in acceptLoop() }
        accepting.name = "http-accept"
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

    /// Stops gracefully: accepts nothing more, lets every request in flight (its first byte arrived)
    /// be read and answered (up to `timeout` seconds), then closes the remaining (idle keep-alive)
    /// connections. Returns false when requests were still in flight at the deadline.
    @discardableResult
    public func drain(timeout: TimeInterval) -> Bool {
        lock.withLock { draining = true }
        shutdown(listenFD, Int32(SHUT_RDWR))  // wakes accept(); the fd is closed in stop()
        let deadline = Date().addingTimeInterval(timeout)
        func settled() -> Bool {
            while Date() < deadline {
                if lock.withLock({ answering.isEmpty }) { return true }
                usleep(5_000)
            }
            return lock.withLock { answering.isEmpty }
        }
        var done = settled()
        stop()
        // A request whose first byte arrived just as the connections closed: whatever its handler
        // started completes (its response cannot be sent).
        if done { done = settled() }
        return done
    }

    private func acceptLoop() {
        while true {
            let fd = accept(listenFD, nil, nil)
            if fd < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                return
            }
            let accepted: Bool = lock.withLock {
                if stopped || draining { return false }
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
            worker.stackSize = 8 << 20  // deep GraphQL documents recurse in the sandbox's parser
            worker.start()
        }
    }

    private func serve(_ fd: Int32) {
        defer {
            lock.withLock {
                _ = connections.remove(fd)
                _ = answering.remove(fd)
            }
            close(fd)
        }
        var reader = HTTPRequestReader(fd: fd, maxBodyBytes: maxBodyBytes)
        reader.onRequestStart = { [self] in lock.withLock { _ = answering.insert(fd) } }
        while true {
            guard let (request, keepAlive) = reader.next() else {
                if reader.bodyTooLarge {
                    let limit = maxBodyBytes ?? 0
                    let response = HTTPServerResponse.json(413, ["error": "request body over \(limit) bytes"])
                    _ = HTTPResponseWriter.write(response, to: fd, keepAlive: false, headOnly: false)
                    discardUnread(fd)
                }
                return
            }
            defer { lock.withLock { _ = answering.remove(fd) } }
            let headOnly = request.method == "HEAD"
            switch handler(request) {
            case .respond(let response):
                let stay = keepAlive && !lock.withLock { draining }
                guard HTTPResponseWriter.write(response, to: fd, keepAlive: stay, headOnly: headOnly), stay
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

    /// After an early answer (413), reads and drops what the client still sends (a bounded amount, briefly)
    /// so that closing does not reset the connection before the client has read the answer.
    private func discardUnread(_ fd: Int32) {
        shutdown(fd, Int32(SHUT_WR))
        var wait = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var dropped = 0
        while dropped < 8 << 20 {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return }
            dropped += n
        }
    }
}
