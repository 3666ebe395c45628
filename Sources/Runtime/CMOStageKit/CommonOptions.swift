import CMOBasics
import ArgumentParser

/// Options every stage takes. Declared optional so "not given" differs from "given the default":
/// what is not on the command line is looked up in `--config`, then the environment.
public struct CommonOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Read settings from this YAML file (flags override it).", valueName: "file"))
    public var config: String?

    @Option(
        name: .customLong("where"),
        help: ArgumentHelp(
            "Keep only input records for which this jq expression is true; the others are counted as filtered.", valueName: "jq"))
    public var whereExpression: String?

    @Option(name: .long, help: ArgumentHelp("Append records that cannot be processed to this file (default: stderr).", valueName: "file"))
    public var deadLetter: String?

    @Option(name: .long, help: ArgumentHelp("Stop with status 1 once more than this many records were dead-lettered.", valueName: "n"))
    public var maxErrors: Int?

    @Option(name: .long, help: ArgumentHelp("Log as 'text' (for a person) or 'json' (one object per line).", valueName: "format"))
    public var logFormat: LogFormat?

    @Flag(name: .shortAndLong, help: "Only warnings and errors on stderr (no progress, no summary).")
    public var quiet = false

    @Flag(name: .shortAndLong, help: "Debug logging on stderr.")
    public var verbose = false

    @Flag(name: .long, help: "Print each setting's effective value and where it came from (secrets masked), then exit.")
    public var printConfig = false

    public init() {}

    public func validate() throws {
        if let maxErrors, maxErrors < 0 { throw ValidationError("'--max-errors' must be 0 or more") }
        if quiet && verbose { throw ValidationError("'--quiet' and '--verbose' cannot be used together") }
    }
}

extension LogFormat: ExpressibleByArgument {}
