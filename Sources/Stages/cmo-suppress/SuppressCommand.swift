import ArgumentParser
import CMOBasics
import CMOLedger
import CMOStageKit
import Foundation

/// Options of the subcommands that are not stages (add, remove, list, import).
struct SuppressOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Read settings from this YAML file (flags override it).", valueName: "file"))
    var config: String?

    @Option(name: .long, help: ArgumentHelp("Log as 'text' (for a person) or 'json' (one object per line).", valueName: "format"))
    var logFormat: LogFormat?

    @Flag(name: .shortAndLong, help: "Only warnings and errors on stderr (no summary).")
    var quiet = false

    @Flag(name: .shortAndLong, help: "Debug logging on stderr.")
    var verbose = false

    func validate() throws {
        if quiet && verbose { throw ValidationError("'--quiet' and '--verbose' cannot be used together") }
    }
}

/// What a subcommand runs with: settings (flag → config → environment → default), the logger, stdout.
final class SuppressRun {
    let settings: Settings
    let logger: Logger
    let output = CMOBasics.OutputStream(fd: 1)

    init(_ options: SuppressOptions) throws {
        settings = try Settings(stage: "cmo-suppress", configPath: options.config)
        let format = try settings.resolve("log-format", flag: options.logFormat, env: "CMO_LOG_FORMAT", default: LogFormat.text)
        logger = Logger(stage: "cmo-suppress", format: format, threshold: options.quiet ? .warning : options.verbose ? .debug : .info)
    }

    /// The list of this environment's state directory (78 when it cannot be opened).
    func openList() throws -> SuppressionList { try SuppressionList.open(environment: settings.environment) }

    /// Writes one NDJSON line.
    func emit(_ value: JSONValue) throws {
        try output.append { buf in
            value.encode(into: &buf)
            buf.append(0x0A)
        }
    }
}

/// A subcommand that is not a stage: set-up, error printing (once) and exit statuses are here.
protocol SuppressCommand: ParsableCommand {
    var options: SuppressOptions { get }
    func execute(_ run: SuppressRun) throws
}

extension SuppressCommand {
    mutating func run() throws {
        CommandBase.ignoreWriteSignals()
        let status: ExitStatus
        do {
            let run = try SuppressRun(options)
            status = Self.perform(self, run)
        } catch {
            let env = ProcessInfo.processInfo.environment["CMO_LOG_FORMAT"].flatMap(LogFormat.init(rawValue:))
            status = Self.report(error, Logger(stage: "cmo-suppress", format: options.logFormat ?? env ?? .text))
        }
        if status != .ok { throw ExitCode(status.rawValue) }
    }

    private static func perform(_ command: Self, _ run: SuppressRun) -> ExitStatus {
        do {
            try command.execute(run)
            try run.output.flush()
            return .ok
        } catch is OutputClosed {
            return .ok  // the reader downstream is gone: not a failure
        } catch {
            _ = try? run.output.flush()
            return report(error, run.logger)
        }
    }

    /// As every command reports (`CommandBase.report`): an SQLite full disk or a Foundation disk error is 74, not 1.
    static func report(_ error: Error, _ logger: Logger) -> ExitStatus { CommandBase.report(error, logger: logger) }
}

extension SuppressionKind: ExpressibleByArgument {}

/// The values of `add` and `remove`, each read with `SuppressionValue.parse`; every bad one is
/// reported, then the command stops with 65 before changing anything.
func parseValues(_ values: [String], kind: SuppressionKind?, logger: Logger) throws -> [(kind: SuppressionKind, value: String)] {
    var out: [(kind: SuppressionKind, value: String)] = []
    var bad = 0
    for v in values {
        do {
            out.append(try SuppressionValue.parse(v, kind: kind))
        } catch let e as SuppressionValueError {
            logger.error(e.description)
            bad += 1
        }
    }
    if bad > 0 {
        throw StageFailure(.dataError, "nothing changed: \(bad) of \(values.count) value\(values.count == 1 ? " is" : "s are") not usable")
    }
    return out
}
