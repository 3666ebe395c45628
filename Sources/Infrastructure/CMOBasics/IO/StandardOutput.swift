import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What a command prints on stdout outside a stage's record stream (cmo-plan's plan and listings): every
/// `write(2)` checked, as a stage's records are. `FileHandle.standardOutput.write` traps on a full disk
/// (the process dies with SIGILL) and `print` drops the error; these make it 74 like every other write.
public enum StandardOutput {
    /// Writes `data` to fd 1 after whatever `print` left in stdio's buffer: a full disk (ENOSPC, EDQUOT, EIO,
    /// EFBIG) throws 74 naming standard output, a closed reader `OutputClosed`.
    public static func write(_ data: Data) throws {
        flushStdio()
        let stream = OutputStream(fd: 1)
        try stream.write(data)
        try stream.flush()
    }

    /// `write` of a string's UTF-8.
    public static func write(_ text: String) throws { try write(Data(text.utf8)) }

    /// For a caller that cannot throw (a printer on another thread): a failure is kept, and `check()`
    /// (which `CommandBase.run` calls when the command ends) reports it.
    public static func writeOrRemember(_ text: String) {
        do { try write(text) } catch { remember(error) }
    }

    /// After a command: stdio's buffer flushed, and the first failure of a write to stdout, if any, thrown
    /// (74 for a full disk). A closed reader is not a failure.
    public static func check() throws {
        flushStdio()
        lock.lock()
        let failure = first
        lock.unlock()
        if let failure { throw failure }
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var first: Error?

    private static func remember(_ error: Error) {
        if error is OutputClosed { return }
        lock.lock()
        if first == nil { first = error }
        lock.unlock()
    }

    /// fflush of stdio's output streams (`print`'s stdout; stderr is unbuffered); a failure other than EPIPE
    /// is remembered as the disk's (74) or as 1. (`stdout` itself is not reachable from Swift 6 code.)
    private static func flushStdio() {
        errno = 0
        guard fflush(nil) != 0 else { return }
        let code = errno == 0 ? EIO : errno
        if code == EPIPE { return }
        remember(IOFailure.isDiskError(code) ? IOFailure.write(fd: 1, errno: code) : StageFailure(.failure, "cannot write \(IOFailure.name(fd: 1)): \(String(cString: strerror(code)))"))
    }
}
