import ArgumentParser
import CMOCore

// Placeholder: replaced by the real stage.
@main
struct SendInstantly: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "send-instantly", abstract: "Queue leads in an Instantly campaign.")
}
