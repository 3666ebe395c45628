#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Thrown when the reader downstream has closed the pipe: the stage stops reading and calling
/// services, flushes its state, and exits 0.
/// An error that may mean the reader downstream closed the pipe (a stage then stops and exits 0).
public protocol OutputClosing: Error {
    var isOutputClosed: Bool { get }
}

public struct OutputClosed: Error, Sendable {
    public init() {}

    /// True when stdout is a pipe whose reader has gone (poll(2) reports POLLERR on the write end),
    /// so a stage waiting for a rate limit can stop instead of sleeping for nobody.
    public static func readerGone(fd: Int32 = 1) -> Bool {
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFIFO else { return false }
        var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        return poll(&p, 1, 0) == 1 && (p.revents & Int16(POLLERR)) != 0
    }
}

/// A buffered byte stream to a file descriptor that checks every `write(2)`: EPIPE becomes
/// `OutputClosed`, any other failure a `StageFailure` with exit 74 naming the file (`IOFailure`).
public final class OutputStream {
    public let fd: Int32
    /// The file as messages name it (nil: what `fd` is open on, `standard output (/dev/full)`).
    public var name: String?
    private var buffer: [UInt8] = []
    private let flushThreshold: Int
    /// Bytes written to the descriptor so far.
    public private(set) var bytesWritten = 0
    /// True once the reader downstream has gone.
    public private(set) var isClosed = false

    public init(fd: Int32, flushThreshold: Int = 64 << 10) {
        self.fd = fd
        self.flushThreshold = flushThreshold
        buffer.reserveCapacity(min(flushThreshold, 1 << 20) + 4096)
    }

    /// Appends bytes; flushes when the buffer passes the threshold.
    public func write<C: Collection>(_ bytes: C) throws where C.Element == UInt8 {
        buffer.append(contentsOf: bytes)
        if buffer.count >= flushThreshold { try flush() }
    }

    /// Appends a string's UTF-8.
    public func write(_ s: String) throws { try write(s.utf8) }

    /// Gives direct access to the pending buffer (for writers that build output in place).
    public func append(_ body: (inout [UInt8]) -> Void) throws {
        body(&buffer)
        if buffer.count >= flushThreshold { try flush() }
    }

    /// Writes everything buffered.
    public func flush() throws {
        guard !buffer.isEmpty else { return }
        if isClosed { throw OutputClosed() }
        var off = 0
        let count = buffer.count
        try buffer.withUnsafeBytes { raw in
            while off < count {
                let n = sysWrite(fd, raw.baseAddress! + off, count - off)
                if n < 0 {
                    if errno == EINTR || errno == EAGAIN { continue }
                    if errno == EPIPE {
                        isClosed = true
                        throw OutputClosed()
                    }
                    let code = errno
                    throw name.map { IOFailure.write($0, errno: code) } ?? IOFailure.write(fd: fd, errno: code)
                }
                off += n
            }
        }
        bytesWritten += count
        buffer.removeAll(keepingCapacity: true)
    }

    /// Pending bytes not yet written.
    public var pending: Int { buffer.count }
}

/// Writes records as NDJSON lines.
public final class NDJSONWriter {
    public let stream: OutputStream
    /// Records written.
    public private(set) var count = 0

    public init(stream: OutputStream) { self.stream = stream }

    /// Writes one record and its `\n`.
    public func write(_ record: Record) throws {
        try stream.append { buf in
            record.write(into: &buf)
            buf.append(0x0A)
        }
        count += 1
    }

    /// Writes everything buffered (called before a read that may block, and at the end).
    public func flush() throws { try stream.flush() }
}

@inline(__always) func sysWrite(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int {
    #if canImport(Glibc)
        return Glibc.write(fd, p, n)
    #else
        return Darwin.write(fd, p, n)
    #endif
}
