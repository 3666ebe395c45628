#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An output that is either stdout or a file written atomically: a temporary file beside the target,
/// fsync'd and renamed over it on `commit`, removed on `abandon`. With a checkpoint interval, every
/// N rows the output is made a complete, valid prefix (buffered rows written in one go and fsync'd;
/// for a file, the first checkpoint renames the temporary file into place and later rows append to
/// the same inode), so a crash leaves a usable file.
public final class FileOutput {
    public let stream: OutputStream
    public let path: String?
    private let tempPath: String?
    private let checkpointEvery: Int?
    private var rowsSinceCheckpoint = 0
    private var renamed = false
    private var done = false

    /// `path` nil or `-` means stdout (through `stdout`, the stage's own stream, unless checkpointing).
    public init(path: String?, checkpointEvery: Int?, stdout: OutputStream) throws {
        self.checkpointEvery = checkpointEvery
        let unbounded = Int.max / 2
        guard let path, path != "-" else {
            self.path = nil
            tempPath = nil
            stream = checkpointEvery == nil ? stdout : OutputStream(fd: 1, flushThreshold: unbounded)
            return
        }
        // Written as it is, with no temporary file: the stage's own stdout or stderr (`-o /dev/stdout`, through
        // its descriptor, offset and O_APPEND kept), a device or a pipe (`-o /dev/full`, a FIFO). A temporary
        // file renamed over any of them would replace the device, or the /dev/stdout link, with a plain file.
        var st = stat()
        if stat(path, &st) == 0 {
            for fd: Int32 in [1, 2] {
                var own = stat()
                if fstat(fd, &own) == 0, own.st_dev == st.st_dev, own.st_ino == st.st_ino {
                    let copy = dup(fd)
                    guard copy >= 0 else { throw IOFailure.file(path, errno: errno, doing: "open", otherwise: .failure) }
                    (self.path, tempPath) = (path, nil)
                    stream = OutputStream(fd: copy, flushThreshold: checkpointEvery == nil ? 1 << 20 : unbounded)
                    stream.name = path
                    return
                }
            }
            if (st.st_mode & S_IFMT) != S_IFREG {
                let fd = open(path, O_WRONLY | O_CLOEXEC)
                guard fd >= 0 else { throw IOFailure.file(path, errno: errno, doing: "open", otherwise: .failure) }
                (self.path, tempPath) = (path, nil)
                stream = OutputStream(fd: fd, flushThreshold: checkpointEvery == nil ? 1 << 20 : unbounded)
                stream.name = path
                return
            }
        }
        // A symbolic link to a file: the file is replaced, the link stays.
        var target = path
        var link = stat()
        if lstat(path, &link) == 0, (link.st_mode & S_IFMT) == S_IFLNK, let resolved = realpath(path, nil) {
            target = String(cString: resolved)
            free(resolved)
        }
        self.path = target
        let slash = target.lastIndex(of: "/")
        let dir = slash.map { String(target[..<$0]) } ?? "."
        let base = slash.map { String(target[target.index(after: $0)...]) } ?? target
        let temp = "\(dir.isEmpty ? "/" : dir)/.\(base).tmp-\(getpid())"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw IOFailure.file(temp, errno: errno, doing: "create", otherwise: .failure) }
        tempPath = temp
        stream = OutputStream(fd: fd, flushThreshold: checkpointEvery == nil ? 1 << 20 : unbounded)
        stream.name = target
    }

    deinit {
        if path != nil { close(stream.fd) }
    }

    /// Counts a finished row; at each checkpoint, makes what was written durable and visible.
    public func rowWritten() throws {
        guard let every = checkpointEvery else { return }
        rowsSinceCheckpoint += 1
        if rowsSinceCheckpoint >= every { try checkpoint() }
    }

    /// Writes what is buffered, fsyncs it, and (for a file) puts it in place.
    public func checkpoint() throws {
        rowsSinceCheckpoint = 0
        try stream.flush()
        guard let path, let tempPath else { return }
        guard fsync(stream.fd) == 0 else { throw IOFailure.file(path, errno: errno, doing: "fsync", otherwise: .failure) }
        if !renamed {
            guard rename(tempPath, path) == 0 else {
                let code = errno
                throw StageFailure(
                    IOFailure.isDiskError(code) ? .ioError : .failure,
                    "cannot rename '\(tempPath)' to '\(path)': \(IOFailure.reason(code))")
            }
            renamed = true
        }
    }

    /// Finishes the output: flushed, and for a file fsync'd and renamed into place.
    public func commit() throws {
        try checkpoint()
        done = true
    }

    /// Gives up: the temporary file is removed (a file already checkpointed into place stays, valid).
    public func abandon() {
        guard !done, let tempPath, !renamed else { return }
        unlink(tempPath)
    }
}
