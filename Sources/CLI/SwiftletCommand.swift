import ArgumentParser

/// `swiftlet`: the CLI and the control plane in one binary.
public struct SwiftletCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "swiftlet",
        abstract: "Swiftlet: a service mesh written in Swift.",
        subcommands: [ControllerCommand.self]
    )

    public init() {}

    /// Parses the command line and runs the chosen command, exiting with its status.
    ///
    /// Subcommands are `AsyncCommand`s run here: on Linux, ArgumentParser's own async entry point resolves to
    /// the synchronous `run()` (which prints help) for lack of an availability annotation it can see.
    public static func runMain(_ arguments: [String]? = nil) async {
        do {
            var command = try Self.parseAsRoot(arguments)
            if var asyncCommand = command as? AsyncCommand {
                try await asyncCommand.execute()
            } else {
                try command.run()
            }
        } catch {
            Self.exit(withError: error)
        }
    }
}

/// A subcommand whose work is asynchronous.
protocol AsyncCommand: ParsableCommand {
    mutating func execute() async throws
}
