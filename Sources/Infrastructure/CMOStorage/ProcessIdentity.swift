import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Who this process is to the other processes sharing the workspace's state: its machine's name and
/// `HOST:PID`, what a ledger row's owner, a worker's queue row and a team database connection's
/// `application_name` (`cmo HOST:PID`) say.
public enum ProcessIdentity {
    /// This machine's name (`gethostname`), else `localhost`.
    public static let host: String = {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "localhost" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }()

    /// `HOST:PID` of this process.
    public static var owner: String { host + ":" + String(getpid()) }
}
