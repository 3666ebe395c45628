import ArgumentParser
import CMOCore

// Placeholder: the suppress helper replaces this file.
@main
struct CMOSuppress: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cmo-suppress", abstract: "The do-not-contact list.")
}
