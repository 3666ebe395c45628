import ArgumentParser
import CMOCore

// Placeholder: replaced by the real stage.
@main
struct SyncAttio: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sync-attio", abstract: "Planned.")
}
