import CMOBasics
import ArgumentParser
import Foundation

/// A cmo stage: one executable that reads NDJSON on stdin and writes NDJSON (or CSV) on stdout.
///
/// Conforming commands declare their options and implement `configure` (resolve settings into a
/// plan) and `process` (the loop); set-up, teardown, the summary line, error printing and exit
/// statuses are done once, here.
public protocol Stage: ParsableCommand {
    /// What `configure` resolves from flags, config, environment and defaults.
    associatedtype Plan
    /// The executable's name (`export-csv`), used in logs, dead letters and config sections.
    static var stageName: String { get }
    /// The options every stage shares.
    var common: CommonOptions { get }
    /// Resolves the stage's own settings (flag → config → environment → default).
    func configure(_ settings: Settings) throws -> Plan
    /// Reads input and writes output through `context`.
    func process(_ context: StageContext, plan: Plan) throws
}

extension Stage {
    public mutating func run() throws {
        let status = Self.execute(self)
        if status != .ok { throw ExitCode(status.rawValue) }
    }

    /// Runs the stage and returns its exit status (printing any error once).
    static func execute(_ stage: Self) -> ExitStatus {
        CommandBase.ignoreWriteSignals()
        let common = stage.common
        let context: StageContext
        do {
            context = try StageContext(stage: stageName, common: common)
        } catch {
            let env = ProcessInfo.processInfo.environment["CMO_LOG_FORMAT"].flatMap(LogFormat.init(rawValue:))
            let status = report(error, logger: Logger(stage: stageName, format: common.logFormat ?? env ?? .text))
            if let checkable = stage as? any CheckableStage, checkable.checkOptions.enabled {
                StageCheck.write(StageCheck.failed(stageName, status: status, error: error), to: CMOBasics.OutputStream(fd: 1))
            }
            return status
        }
        // `--rebuild-ledger` (the writers): the ledger rebuilt from the service; no input read (StageRebuild.swift).
        if !common.printConfig, let rebuilding = stage as? any LedgerRebuildingStage, rebuilding.rebuildOptions.enabled {
            return StageRebuild.run(rebuilding, context: context)
        }
        // `--check` (the writers): the stage's check in place of the run; no input read (StageCheck.swift).
        if !common.printConfig, let checkable = stage as? any CheckableStage, checkable.checkOptions.enabled {
            return StageCheck.run(checkable, context: context)
        }
        let plan: Plan
        do {
            plan = try stage.configure(context.settings)
            try context.compileWhere()
        } catch {
            return report(error, logger: context.logger)
        }
        if common.printConfig {
            // Checked (a full disk is 74, like every other write of the stage; Foundation's write would trap).
            do {
                try context.output.write(context.settings.describe())
                try context.output.flush()
            } catch where error is OutputClosed {
            } catch {
                return report(error, logger: context.logger)
            }
            return .ok
        }
        do {
            try StageRebuild.verify(stage, context: context)  // a state that lost its history: 78 before any request
            try stage.process(context, plan: plan)
            try context.output.flush()
            return context.finish()
        } catch let error where error is OutputClosed || (error as? any OutputClosing)?.isOutputClosed == true {
            context.logger.debug("the reader downstream closed the pipe; stopping")
            context.downstreamClosed = true
            return context.finish()
        } catch {
            _ = try? context.output.flush()
            let status = report(error, logger: context.logger)
            context.writeSummary()
            return status
        }
    }

    /// Prints an error once and maps it to an exit status.
    static func report(_ error: Error, logger: Logger) -> ExitStatus { CommandBase.report(error, logger: logger) }
}

/// What every cmo command (the stages, cmo-suppress, cmo-plan) does with an error that stops it:
/// print it once, in Unix wording, and map it to its exit status.
public enum CommandBase {
    public static func report(_ error: Error, logger: Logger) -> ExitStatus {
        switch (error as? any CMOErrorConvertible)?.cmoError ?? error {
        case let e as CMOError:
            // The fields go to the JSON log only (the line a person reads stays the message).
            logger.error(e.description, logger.format == .json ? e.logFields : [:])
            return e.exitStatus
        case let e as JQError:
            logger.error(e.description)
            return .failure
        default:
            // A Foundation file error that is the disk's fault (ENOSPC, EDQUOT, EIO, EROFS, EFBIG): 74, as for every write.
            if let disk = IOFailure.disk(error) {
                logger.error(disk.description)
                return disk.exitStatus
            }
            logger.error("internal error: \(error)")
            return .failure
        }
    }

    /// Once per process, before anything is written: SIGPIPE ignored (a closed reader is EPIPE, exit 0) and
    /// SIGXFSZ ignored (a file over `ulimit -f` is EFBIG, reported as the disk refusing the write, exit 74,
    /// rather than the process being killed).
    public static func ignoreWriteSignals() {
        signal(SIGPIPE, SIG_IGN)
        signal(SIGXFSZ, SIG_IGN)
    }

    /// Runs `body`, reporting a thrown error once; throws `ExitCode` for any status but 0.
    public static func run(_ name: String, format: LogFormat? = nil, _ body: () throws -> ExitStatus) throws {
        let env = ProcessInfo.processInfo.environment["CMO_LOG_FORMAT"].flatMap(LogFormat.init(rawValue:))
        signal(SIGXFSZ, SIG_IGN)  // EFBIG, 74, instead of a kill (ignoreWriteSignals; SIGPIPE is left as the caller set it)
        let status: ExitStatus
        do {
            let done = try body()
            if done == .ok { try StandardOutput.check() }  // what `print` could not write (a full disk: 74)
            status = done
        } catch let e as ExitCode { throw e } catch {
            status = report(error, logger: Logger(stage: name, format: format ?? env ?? .text))
        }
        if status != .ok { throw ExitCode(status.rawValue) }
    }
}
