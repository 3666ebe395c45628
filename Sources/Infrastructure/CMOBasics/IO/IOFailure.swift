import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A write to an output, ledger or state file that failed: every tool ends with 74 (EX_IOERR) for it,
/// with a message naming the file and, for ENOSPC, saying "disk full".
public enum IOFailure {
    /// errno values that mean the file system refused the bytes (not a bug in the program): a full disk,
    /// a quota, an I/O error, a read-only file system, a file over the size limit.
    public static func isDiskError(_ code: Int32) -> Bool {
        [ENOSPC, EDQUOT, EIO, EROFS, EFBIG].contains(code)
    }

    /// What an errno means to a person: "disk full" for ENOSPC, "disk quota exceeded" for EDQUOT,
    /// else strerror's wording; always followed by strerror in parentheses where it differs.
    public static func reason(_ code: Int32) -> String {
        let text = String(cString: strerror(code))
        switch code {
        case ENOSPC: return "disk full (\(text))"
        case EDQUOT: return "disk quota exceeded (\(text))"
        case EROFS: return "read-only file system (\(text))"
        default: return text
        }
    }

    /// `cannot write 'FILE': disk full (No space left on device)`, exit 74.
    public static func write(_ file: String, errno code: Int32, doing verb: String = "write") -> StageFailure {
        StageFailure(.ioError, "cannot \(verb) '\(file)': \(reason(code))")
    }

    /// `cannot write standard output (/dev/full): disk full (No space left on device)`, exit 74.
    public static func write(fd: Int32, errno code: Int32) -> StageFailure {
        StageFailure(.ioError, "cannot write \(name(fd: fd)): \(reason(code))")
    }

    /// An error from opening, syncing or renaming a file: 74 when the file system refused (`isDiskError`),
    /// else `otherwise` (a missing directory or a permission is not the disk's fault).
    public static func file(_ file: String, errno code: Int32, doing verb: String, otherwise: ExitStatus) -> StageFailure {
        isDiskError(code) ? write(file, errno: code, doing: verb)
            : StageFailure(otherwise, "cannot \(verb) '\(file)': \(String(cString: strerror(code)))")
    }

    /// What `fd` is open on, for messages: `standard output (/dev/full)` for fd 1, `'out.csv'` for a file
    /// (the path where the system says it).
    public static func name(fd: Int32) -> String {
        var path: String?
        #if os(Linux)
            var buf = [CChar](repeating: 0, count: 4096)
            let n = readlink("/proc/self/fd/\(fd)", &buf, buf.count - 1)
            if n > 0 { path = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) }
        #endif
        let label = fd == 1 ? "standard output" : fd == 2 ? "standard error" : nil
        switch (label, path) {
        case let (label?, path?): return "\(label) (\(path))"
        case let (label?, nil): return label
        case let (nil, path?): return "'\(path)'"
        default: return "file descriptor \(fd)"
        }
    }

    /// A Foundation file error (`Data.write`, `FileManager`, `FileHandle`) that is the disk's fault, as the
    /// 74 every tool ends with for it, naming the file when the error does; nil for any other error.
    public static func disk(_ error: Error) -> StageFailure? {
        var code: Int32?
        var file: String?
        var e: NSError? = error as NSError
        while let n = e {
            file = file ?? (n.userInfo[NSFilePathErrorKey] as? String) ?? (n.userInfo[NSURLErrorKey] as? URL)?.path
            if n.domain == NSPOSIXErrorDomain {
                code = Int32(n.code)
                break
            }
            if n.domain == NSCocoaErrorDomain && n.code == CocoaError.fileWriteOutOfSpace.rawValue { code = code ?? ENOSPC }
            e = n.userInfo[NSUnderlyingErrorKey] as? NSError
        }
        guard let code, isDiskError(code) else { return nil }
        return file.map { write($0, errno: code) } ?? StageFailure(.ioError, "cannot write: \(reason(code))")
    }
}
