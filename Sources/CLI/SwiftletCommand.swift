import ArgumentParser
import Foundation
import MeshModel
import ProxyCore

/// `swiftlet`: the CLI and the control plane in one binary.
public struct SwiftletCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "swiftlet",
        abstract: "Swiftlet: a service mesh written in Swift.",
        version: SwiftletVersion.current,
        subcommands: [
            InstallCommand.self, UninstallCommand.self, UpgradeCommand.self, InjectCommand.self, UninjectCommand.self, CheckCommand.self,
            ControllerCommand.self, IdentityCommand.self, DemoCommand.self, VersionCommand.self, CompletionCommand.self,
            DiagnosticsCommand.self, VizCommand.self,
            DemoAppCommand.self, ProxyCommand.self, TLSHandshakesCommand.self,
        ]
    )

    public init() {}

    /// Parses the command line and runs the chosen command, exiting with its status.
    ///
    /// Subcommands are `AsyncCommand`s run here: on Linux, ArgumentParser's own async entry point resolves to
    /// the synchronous `run()` (which prints help) for lack of an availability annotation it can see.
    public static func runMain(_ arguments: [String]? = nil) async {
        if ProcessInfo.processInfo.environment["SWIFTLET_EXIT_WITH_PARENT"] == "1" {
            Self.exitWithParent()
        }
        do {
            var command = try Self.parseAsRoot(arguments)
            if var asyncCommand = command as? AsyncCommand {
                try await asyncCommand.execute()
            } else {
                try command.run()
            }
        } catch {
            Self.fail(error)
        }
    }

    /// Reports `error` and exits: ArgumentParser's usage errors with the usage (exit status 64); a command's own
    /// failure on one line, `Error: …`, with exit status 1.
    static func fail(_ error: any Error) -> Never {
        let code = Self.exitCode(for: error)
        guard code == .failure else { Self.exit(withError: error) }
        let message = (error as? CommandFailure)?.message ?? String(describing: error)
        FileHandle.standardError.write(Data("Error: \(message.split(separator: "\n").joined(separator: "; "))\n".utf8))
        Foundation.exit(1)
    }
}

extension SwiftletCommand {
    /// A child of `swiftlet demo` ends when the demo is gone, however it went (a crash skips its clean-up).
    ///
    /// A watchdog thread rather than `PR_SET_PDEATHSIG`: that fires when the spawning *thread* exits, and the demo
    /// spawns from pool threads that come and go.
    static func exitWithParent() {
        let parent = getppid()
        Thread.detachNewThread {
            while getppid() == parent { usleep(250_000) }
            kill(getpid(), SIGTERM)
            sleep(5)
            Foundation.exit(1)
        }
    }
}

/// A subcommand whose work is asynchronous.
protocol AsyncCommand: ParsableCommand {
    mutating func execute() async throws
}
