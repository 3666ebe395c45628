/// Exit statuses of every cmo executable (BSD sysexits numbering; fixed by the contract in docs/contracts.md).
public enum ExitStatus: Int32, Sendable, CaseIterable {
    /// All input accounted for, or the reader downstream closed the pipe.
    case ok = 0
    /// Internal error (a service refusing cmo's request as a whole, 400/422, counts as one: re-running
    /// will not help), or more dead letters than `--max-errors` allows.
    case failure = 1
    /// Bad flags or a bad jq expression.
    case usage = 64
    /// Input is not NDJSON at all, or a required field is missing on every record.
    case dataError = 65
    /// A remote service down or broken, still failing after retries (unreachable, timeouts, 5xx, an
    /// answer that is not its API, no quota); never a refusal of a request or a record (`ServiceAnswer`
    /// in CMOHTTP maps every answer).
    case unavailable = 69
    /// An output, ledger or state file could not be written (disk full, quota, I/O error, read-only file system).
    case ioError = 74
    /// Temporary: a rate limit would need a longer wait than `--max-wait`; safe to re-run later.
    case tempFail = 75
    /// Credentials rejected (401/403 that is not a rate limit).
    case noPermission = 77
    /// Configuration or installation missing or invalid (no token, bad YAML, a base URL, campaign, list,
    /// team or model the service answers 404 for, a stage executable that cannot be started).
    case config = 78
}

/// An error that knows which exit status it ends a stage with, and says so once, in Unix wording.
public protocol CMOError: Error, CustomStringConvertible {
    /// The exit status a stage ends with when this error stops it.
    var exitStatus: ExitStatus { get }
    /// What a program reading the JSON log needs besides the message (a rate limit's `wait_seconds`).
    var logFields: [String: JSONValue] { get }
}

extension CMOError {
    public var logFields: [String: JSONValue] { [:] }
}

/// An error from a library below cmo (an SQLite error from GRDB) that can say what it means to a stage:
/// `CommandBase.report` prints and exits with `cmoError` instead of calling it an internal error.
public protocol CMOErrorConvertible: Error {
    var cmoError: any CMOError { get }
}

/// A plain error carrying its message and exit status.
public struct StageFailure: CMOError {
    public let exitStatus: ExitStatus
    public let message: String
    public init(_ exitStatus: ExitStatus, _ message: String) {
        self.exitStatus = exitStatus
        self.message = message
    }
    public var description: String { message }
}
