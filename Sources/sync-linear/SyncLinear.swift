import ArgumentParser
import CMOCore

// Placeholder: replaced by the real stage.
@main
struct SyncLinear: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sync-linear", abstract: "Planned.")
}
