import CMOBasics
import Foundation

#if canImport(Glibc)
    import Glibc
    private let sockStream = Int32(SOCK_STREAM.rawValue)
    private let sockDgram = Int32(SOCK_DGRAM.rawValue)
#else
    import Darwin
    private let sockStream = SOCK_STREAM
    private let sockDgram = SOCK_DGRAM
#endif

/// The sandbox's DNS server: UDP and TCP on 127.0.0.1, one port for both, answering MX/A/AAAA from
/// a `DNSZone` (normal MX, implicit MX, null MX, NXDOMAIN, SERVFAIL, no answer, truncated UDP, slow).
public final class DNSServer: @unchecked Sendable {
    /// Errors from binding the sockets.
    public struct StartError: Error, CustomStringConvertible {
        public var description: String
    }

    private let answerer: DNSAnswerer
    private let requestedPort: UInt16
    private let stats: SandboxStats?
    private let lock = NSLock()
    private var running = false
    private var udp: Int32 = -1
    private var tcp: Int32 = -1
    private var boundPort: UInt16 = 0
    private let threads = DispatchGroup()

    /// A server for `zone` on `port` (0: any free port); `ttl` is stamped on every answer; with
    /// `negativeSOA`, NXDOMAIN and NODATA answers carry an SOA in the authority section.
    public init(zone: DNSZone, port: UInt16 = 0, ttl: UInt32 = 300, stats: SandboxStats? = nil, negativeSOA: Bool = false) {
        answerer = DNSAnswerer(zone: zone, ttl: ttl, negativeSOA: negativeSOA)
        requestedPort = port
        self.stats = stats
    }

    /// The bound port once started, else 0.
    public var port: UInt16 { lock.withLock { boundPort } }

    /// Binds UDP and TCP on the same loopback port and starts serving; returns the port.
    @discardableResult
    public func start() throws -> UInt16 {
        var lastError = "no attempt"
        for _ in 0..<20 {
            let u = try Self.bindSocket(type: sockDgram, port: requestedPort)
            let port = Self.localPort(u)
            do {
                let t = try Self.bindSocket(type: sockStream, port: port)
                guard listen(t, 64) == 0 else { throw StartError(description: "listen: \(String(cString: strerror(errno)))") }
                lock.withLock {
                    udp = u
                    tcp = t
                    boundPort = port
                    running = true
                }
                spawn { [self] in udpLoop(u) }
                spawn { [self] in acceptLoop(t) }
                return port
            } catch {
                close(u)
                lastError = "\(error)"
                if requestedPort != 0 { break }
            }
        }
        throw StartError(description: "cannot bind UDP and TCP on one port: \(lastError)")
    }

    /// Stops serving and closes the sockets (waits for the serving threads to finish).
    public func stop() {
        let wasRunning = lock.withLock {
            defer { running = false }
            return running
        }
        guard wasRunning else { return }
        _ = threads.wait(timeout: .now() + 2)
        lock.withLock {
            close(udp)
            close(tcp)
            udp = -1
            tcp = -1
        }
    }

    deinit { stop() }

    private var isRunning: Bool { lock.withLock { running } }

    private func spawn(_ body: @escaping @Sendable () -> Void) {
        threads.enter()
        let thread = Thread { [threads] in
            body()
            threads.leave()
        }
        thread.start()
    }

    private static func bindSocket(type: Int32, port: UInt16) throws -> Int32 {
        let fd = socket(AF_INET, type, 0)
        guard fd >= 0 else { throw StartError(description: "socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        if type == sockStream { setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size)) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            let message = String(cString: strerror(errno))
            close(fd)
            throw StartError(description: "bind 127.0.0.1:\(port): \(message)")
        }
        return fd
    }

    private static func localPort(_ fd: Int32) -> UInt16 {
        var addr = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return UInt16(bigEndian: addr.sin_port)
    }

    /// Waits up to 100 ms for `fd` to be readable.
    private static func readable(_ fd: Int32) -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&p, 1, 100) > 0 && p.revents & Int16(POLLIN) != 0
    }

    private func record(_ q: DNSQuestion, transport: String) {
        stats?.recordRequest(service: "dns", endpoint: DNSType.name(q.type))
        stats?.recordRequest(service: "dns", endpoint: "transport \(transport)")
    }

    private func udpLoop(_ fd: Int32) {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while isRunning {
            guard Self.readable(fd) else { continue }
            var from = sockaddr_storage()
            var fromLen = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let n = withUnsafeMutablePointer(to: &from) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, &buffer, buffer.count, 0, $0, &fromLen) }
            }
            guard n > 0 else { continue }
            let query = Array(buffer[0..<n])
            let reply: DNSReply
            do {
                let q = try DNSWire.parse(query)
                record(q, transport: "udp")
                reply = answerer.reply(to: q, overTCP: false)
            } catch {
                guard let id = error.id else { continue }
                reply = .send(DNSWire.formErr(id: id), delayMS: 0)
            }
            guard case .send(let bytes, let delay) = reply else { continue }
            let peer = from
            let peerLen = fromLen
            let send: @Sendable () -> Void = {
                var to = peer
                _ = withUnsafePointer(to: &to) { p in
                    p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, bytes, bytes.count, 0, $0, peerLen) }
                }
            }
            if delay > 0 {
                DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(delay)) { [self] in
                    if isRunning { send() }
                }
            } else {
                send()
            }
        }
    }

    private func acceptLoop(_ fd: Int32) {
        while isRunning {
            guard Self.readable(fd) else { continue }
            let conn = accept(fd, nil, nil)
            guard conn >= 0 else { continue }
            spawn { [self] in serveTCP(conn) }
        }
    }

    /// Serves length-prefixed queries on one TCP connection until EOF, idle for 10 s, or stop.
    private func serveTCP(_ conn: Int32) {
        defer { close(conn) }
        var pending: [UInt8] = []
        var idle = 0
        var chunk = [UInt8](repeating: 0, count: 4096)
        while isRunning && idle < 100 {
            guard Self.readable(conn) else {
                idle += 1
                continue
            }
            idle = 0
            let n = read(conn, &chunk, chunk.count)
            guard n > 0 else { return }
            pending += chunk[0..<n]
            while pending.count >= 2 {
                let len = Int(DNSWire.u16(pending, 0))
                guard pending.count >= 2 + len else { break }
                let query = Array(pending[2..<(2 + len)])
                pending.removeFirst(2 + len)
                let reply: DNSReply
                do {
                    let q = try DNSWire.parse(query)
                    record(q, transport: "tcp")
                    reply = answerer.reply(to: q, overTCP: true)
                } catch {
                    guard let id = error.id else { return }
                    reply = .send(DNSWire.formErr(id: id), delayMS: 0)
                }
                guard case .send(let bytes, let delay) = reply else { continue }
                if delay > 0 { usleep(useconds_t(delay) * 1000) }
                var framed: [UInt8] = []
                DNSWire.put16(&framed, UInt16(bytes.count))
                framed += bytes
                guard write(conn, framed, framed.count) == framed.count else { return }
            }
        }
    }
}
