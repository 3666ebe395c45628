import CMOBasics
import Foundation

/// What a running stage works with: settings, logger, input reader (with `--where` and dead letters
/// handled), output stream, counters, and the summary.
public final class StageContext {
    public let stage: String
    public let settings: Settings
    public let logger: Logger
    public let deadLetters: DeadLetterSink
    public let output: CMOBasics.OutputStream
    public let writer: NDJSONWriter
    public let maxErrors: Int?
    private let whereExpression: String?
    private var whereProgram: JQProgram?
    private var fastWhere: FastPredicate?
    private let started = Date()

    /// Records read (valid or not).
    public private(set) var recordsIn = 0
    /// Records written (or rows, for a CSV writer).
    public var recordsOut = 0
    /// Records filtered, by reason.
    public private(set) var filtered: [String: Int] = [:]
    /// HTTP requests made and free 304s, for the summary (set by stages that call services).
    public var httpRequests = 0
    public var httpNotModified = 0
    /// Clients made with `makeHTTPClient` (or any that counts requests), counted in the summary.
    package var requestCounters: [any RequestCounting] = []
    /// Extra summary fields a stage adds.
    public var extraSummary: [(String, JSONValue)] = []
    /// Set when the reader downstream closed the pipe.
    public var downstreamClosed = false
    private var firstLineBad: Bool?
    private var validRecords = 0
    private var missingRequired = 0
    /// Records written `failed` because the service (or the writer's pre-send check) refused them for
    /// their own content (`countRefused`).
    public private(set) var refusedForContent = 0
    /// Where records are read from (stdin; a pipe in tests).
    let inputFD: Int32

    init(
        stage: String, common: CommonOptions, environment: [String: String] = ProcessInfo.processInfo.environment,
        inputFD: Int32 = 0, outputFD: Int32 = 1
    ) throws {
        self.stage = stage
        self.inputFD = inputFD
        let settings = try Settings(stage: stage, configPath: common.config, environment: environment)
        self.settings = settings
        let format = try settings.resolve("log-format", flag: common.logFormat, env: "CMO_LOG_FORMAT", default: LogFormat.text)
        let threshold: LogLevel = common.quiet ? .warning : common.verbose ? .debug : .info
        logger = Logger(stage: stage, format: format, threshold: threshold, environment: environment)
        let dlPath: String? = try settings.resolve("dead-letter", flag: common.deadLetter, env: "CMO_DEAD_LETTER")
        deadLetters = try DeadLetterSink(stage: stage, path: dlPath)
        maxErrors = try settings.resolve("max-errors", flag: common.maxErrors, env: "CMO_MAX_ERRORS")
        if let maxErrors, maxErrors < 0 { throw settings.invalid("max-errors", env: "CMO_MAX_ERRORS", "must be 0 or more") }
        whereExpression = try settings.resolve("where", flag: common.whereExpression)
        output = CMOBasics.OutputStream(fd: outputFD)
        writer = NDJSONWriter(stream: output)
    }

    func compileWhere() throws {
        guard let whereExpression else { return }
        whereProgram = try JQProgram(whereExpression)
        fastWhere = FastPredicate.parse(whereExpression)
    }

    /// Reads every input record from `fd`, dead-lettering bad lines and applying `--where`, and calls
    /// `body` with each record that passes. Output is flushed before each read that may block, so
    /// records reach the next process promptly.
    ///
    /// `whenIdle`: before a read, when `needed()` says there is something to hand over and no input
    /// arrives within `after` seconds (a file being appended to, `tail -F`), `run` is called first.
    public func forEachRecord(
        fd: Int32 = 0, whenIdle: (after: Double, needed: () -> Bool, run: () throws -> Void)? = nil,
        _ body: (Record) throws -> Void
    ) throws {
        let reader = NDJSONReader(fd: fd)
        reader.beforeRead = { [output] in
            try output.flush()
            guard let whenIdle, whenIdle.needed() else { return }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&p, 1, Int32(max(1, whenIdle.after * 1000)))
            if ready == 0 {
                try whenIdle.run()
                try output.flush()
            }
        }
        while let line = try reader.next() {
            recordsIn += 1
            switch line {
            case .bad(let n, let bytes, let length, let error):
                if firstLineBad == nil { firstLineBad = true }
                deadLetters.write(line: n, bytes: bytes, length: length, code: error.code, message: error.message)
                try checkErrorBudget()
            case .record(let record):
                if firstLineBad == nil { firstLineBad = false }
                validRecords += 1
                if let whereProgram {
                    var keep: Bool
                    do {
                        keep = try fastWhere?.evaluate(record) ?? whereProgram.test(record)
                    } catch {
                        deadLetter(record, code: "where_error", message: "--where: \((error as? JQError)?.message ?? "\(error)")")
                        try checkErrorBudget()
                        continue
                    }
                    if !keep {
                        filter(record, reason: "where")
                        continue
                    }
                }
                try body(record)
                if deadLetters.count > 0 { try checkErrorBudget() }
            }
            if recordsIn & 1023 == 0 {
                logger.progress("\(self.recordsIn) in, \(self.recordsOut) out, \(self.deadLetters.count) dead-lettered")
            }
        }
        if firstLineBad == true, validRecords == 0 {
            throw StageFailure(.dataError, "input is not NDJSON: the first line is not a JSON object, and no line was")
        }
    }

    /// Writes a record to stdout.
    public func emit(_ record: Record) throws {
        try writer.write(record)
        recordsOut += 1
    }

    /// Counts a record as filtered out, with a reason.
    public func filter(_ record: Record, reason: String) {
        filtered[reason, default: 0] += 1
    }

    /// Sends a record to the dead-letter sink.
    public func deadLetter(_ record: Record, code: String, message: String, retryable: Bool = false) {
        deadLetters.write(record: record, code: code, message: message, retryable: retryable)
    }

    /// Dead-letters a record that lacks a field the stage needs. When every record lacks one, the
    /// stage ends with status 65 (the input is not what the stage reads).
    public func deadLetterMissing(_ record: Record, field: String) {
        missingRequired += 1
        deadLetter(record, code: "missing_field", message: "required field '\(field)' is missing or empty")
    }

    /// Counts a record a writer wrote `failed` because it was refused for its own content (an address
    /// that is not a mailbox, a 400 naming it). When every record was refused (or lacked a required
    /// field), the run produced nothing useful and ends 65, like a run whose every record lacks a
    /// required field; a run where some were written ends 0.
    public func countRefused(_ n: Int = 1) {
        refusedForContent += n
    }

    /// Stops the stage (status 1) once dead letters exceed `--max-errors`.
    public func checkErrorBudget() throws {
        if let failure = deadLetters.failure { throw failure }  // a dead-letter file on a full disk: 74
        if let maxErrors, deadLetters.count > maxErrors {
            throw StageFailure(.failure, "\(deadLetters.count) records dead-lettered, more than --max-errors \(maxErrors) allows; stopping")
        }
    }

    /// Writes the summary and decides the final status.
    func finish() -> ExitStatus {
        writeSummary()
        if let failure = deadLetters.failure {
            logger.error(failure.message)
            return failure.exitStatus
        }
        if downstreamClosed { return .ok }
        if validRecords > 0, missingRequired == validRecords {
            logger.error("no input record has the fields this stage needs (all \(validRecords) dead-lettered)")
            return .dataError
        }
        if validRecords > 0, refusedForContent > 0, missingRequired + refusedForContent >= validRecords {
            logger.error(
                "every input record was refused for its content (\(refusedForContent) failed: see each record's reason); nothing was written")
            return .dataError
        }
        if let maxErrors, deadLetters.count > maxErrors {
            logger.error("\(deadLetters.count) records dead-lettered, more than --max-errors \(maxErrors) allows")
            return .failure
        }
        return .ok
    }

    /// The one summary line on stderr.
    func writeSummary() {
        let seconds = Date().timeIntervalSince(started)
        let filteredTotal = filtered.values.reduce(0, +)
        var quota: [String: Int] = [:]
        var retries = 0, rateLimited = 0, waited = 0.0
        for c in requestCounters {
            let f = c.requestFigures
            httpRequests += f.sent
            httpNotModified += f.notModified
            quota.merge(f.quotaSpent, uniquingKeysWith: +)
            retries += f.retries
            rateLimited += f.rateLimited
            waited += f.waitSeconds
        }
        requestCounters = []
        var text =
            "\(recordsIn) in, \(recordsOut) out, \(filteredTotal) filtered, \(deadLetters.count) dead-lettered, "
            + "\(httpRequests) HTTP requests (\(httpNotModified) free 304s), \(String(format: "%.2f", seconds)) s"
        if filteredTotal > 0 {
            text += "; filtered: " + filtered.keys.sorted().map { "\($0)=\(filtered[$0]!)" }.joined(separator: ", ")
        }
        if !quota.isEmpty { text += "; quota spent: " + quota.keys.sorted().map { "\($0)=\(quota[$0]!)" }.joined(separator: ", ") }
        // Retries, rate limits and waits when there were any (the report's API usage reads them).
        if retries > 0 { text += "; http_retries=\(retries)" }
        if rateLimited > 0 { text += "; http_rate_limited=\(rateLimited)" }
        if waited > 0 { text += "; http_wait_seconds=\(String(format: "%.1f", waited))" }
        for (k, v) in extraSummary { text += "; \(k)=\(v.stringValue ?? v.compactJSON)" }
        if downstreamClosed { text += "; stopped early: output closed" }
        var fields: [String: JSONValue] = [
            "in": .int(recordsIn), "out": .int(recordsOut), "filtered": .int(filteredTotal),
            "filtered_by": .object(filtered.keys.sorted().map { JSONMember($0, .int(filtered[$0]!)) }),
            "dead_lettered": .int(deadLetters.count), "http_requests": .int(httpRequests),
            "http_not_modified": .int(httpNotModified), "seconds": .double((seconds * 1000).rounded() / 1000),
            "output_closed": .bool(downstreamClosed),
            "quota_spent": .object(quota.keys.sorted().map { JSONMember($0, .int(quota[$0]!)) }),
            "http_retries": .int(retries), "http_rate_limited": .int(rateLimited), "http_wait_seconds": .double((waited * 10).rounded() / 10),
        ]
        for (k, v) in extraSummary { fields[k] = v }
        logger.summary(text, fields)
    }
}

/// What a service client tells the summary: requests sent, free 304s, quota spent, retries, rate limits
/// and seconds waited. The HTTP client is one; the stage runtime knows no client.
public protocol RequestCounting: AnyObject {
    var requestFigures: RequestFigures { get }
}

public struct RequestFigures: Sendable {
    public var sent = 0
    public var notModified = 0
    public var quotaSpent: [String: Int] = [:]
    public var retries = 0
    public var rateLimited = 0
    public var waitSeconds = 0.0
    public init(sent: Int = 0, notModified: Int = 0, quotaSpent: [String: Int] = [:], retries: Int = 0, rateLimited: Int = 0, waitSeconds: Double = 0) {
        (self.sent, self.notModified, self.quotaSpent, self.retries, self.rateLimited, self.waitSeconds) =
            (sent, notModified, quotaSpent, retries, rateLimited, waitSeconds)
    }
}
