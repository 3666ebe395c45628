import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The POSIX socket calls the resolver needs, each turning a C failure into nil or an error string.
enum DNSSocket {
    static func address(_ server: DNSServerAddress) -> sockaddr_in {
        var sa = sockaddr_in()
        sa.sin_family = sa_family_t(AF_INET)
        sa.sin_port = server.port.bigEndian
        _ = inet_pton(AF_INET, server.host, &sa.sin_addr)
        return sa
    }

    /// A non-blocking, unconnected UDP socket (one for a whole batch: replies are told apart by id).
    static func udp() -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        var size: Int32 = 1 << 20  // many replies may land between two polls
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        return fd
    }

    /// Sends `bytes` to `server`; false when the kernel refused it (buffer full, no route).
    static func send(_ fd: Int32, _ bytes: [UInt8], to server: DNSServerAddress) -> Bool {
        var sa = address(server)
        let n = withUnsafePointer(to: &sa) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(fd, bytes, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        return n == bytes.count
    }

    /// The next waiting datagram and its sender, or nil when none is waiting.
    static func receive(_ fd: Int32, into buffer: inout [UInt8]) -> (bytes: [UInt8], from: DNSServerAddress)? {
        var sa = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        while true {
            let n = withUnsafeMutablePointer(to: &sa) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, &buffer, buffer.count, 0, $0, &len) }
            }
            if n < 0 && (errno == EINTR || errno == ECONNREFUSED) { continue }  // ICMP errors: keep draining
            guard n >= 0 else { return nil }
            var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
            _ = inet_ntop(AF_INET, &sa.sin_addr, &text, socklen_t(text.count))
            let host = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            return (Array(buffer[0..<n]), DNSServerAddress(host: host, port: UInt16(bigEndian: sa.sin_port)))
        }
    }

    /// Waits until `fd` has `events` or `deadline` passes.
    static func wait(_ fd: Int32, _ events: Int16, until deadline: Double) -> Bool {
        while true {
            let ms = Int32(max(0, (deadline - now()) * 1000).rounded(.up))
            var p = pollfd(fd: fd, events: events, revents: 0)
            let r = poll(&p, 1, ms)
            if r < 0 && errno == EINTR { continue }
            return r > 0
        }
    }

    /// One query over TCP (2-byte length prefix, RFC 1035 §4.2.2), for replies truncated over UDP.
    static func tcpExchange(_ query: [UInt8], server: DNSServerAddress, deadline: Double) -> Result<[UInt8], DNSTCPError> {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return .failure(.init("tcp socket failed")) }
        defer { close(fd) }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        var sa = address(server)
        let c = withUnsafePointer(to: &sa) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard c == 0 || errno == EINPROGRESS else { return .failure(.init("tcp connect failed")) }
        guard wait(fd, Int16(POLLOUT), until: deadline) else { return .failure(.timeout) }
        var framed: [UInt8] = []
        DNSMessage.put16(&framed, UInt16(query.count))
        framed += query
        var sent = 0
        while sent < framed.count {
            guard wait(fd, Int16(POLLOUT), until: deadline) else { return .failure(.timeout) }
            let n = framed[sent...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 && (errno == EAGAIN || errno == EINTR) { continue }
            guard n > 0 else { return .failure(.init("tcp write failed")) }
            sent += n
        }
        var got: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while got.count < 2 || got.count < 2 + Int(DNSMessage.u16(got, 0)!) {
            guard wait(fd, Int16(POLLIN), until: deadline) else { return .failure(.timeout) }
            let n = read(fd, &chunk, chunk.count)
            if n < 0 && (errno == EAGAIN || errno == EINTR) { continue }
            guard n > 0 else { return .failure(.init("tcp connection closed early")) }
            got += chunk[0..<n]
        }
        return .success(Array(got[2..<(2 + Int(DNSMessage.u16(got, 0)!))]))
    }

    /// Monotonic seconds.
    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}

/// Why a TCP exchange failed.
struct DNSTCPError: Error, Equatable {
    let message: String
    init(_ message: String) { self.message = message }
    static let timeout = DNSTCPError("timeout")
}
