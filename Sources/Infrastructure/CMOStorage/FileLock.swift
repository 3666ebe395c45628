#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An exclusive `flock(2)` on a file, taken without waiting and held until `release()` or the process's
/// end (the kernel drops it then, so a `kill -9` never leaves a stale lock). The one way cmo takes a lock:
/// a job's run directory, a cron name, a GitHub token.
public final class FileLock {
    public let path: String
    public private(set) var fd: Int32

    private init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    public enum Outcome {
        case held(FileLock)
        /// Another process holds it.
        case busy
        /// The file cannot be opened (the reason, from errno).
        case unavailable(String)
    }

    /// Opens (creating, mode 0600) and locks `path` if no other process holds it.
    public static func tryLock(_ path: String) -> Outcome {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return .unavailable(String(cString: strerror(errno))) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            return .busy
        }
        return .held(FileLock(path: path, fd: fd))
    }

    /// Replaces the file's content with `text` (who holds it, for the next process to say).
    public func write(_ text: String) {
        ftruncate(fd, 0)
        _ = text.withCString { pwrite(fd, $0, strlen($0), 0) }
    }

    public func release() {
        if fd >= 0 { close(fd) }
        fd = -1
    }

    deinit { release() }
}
