import ArgumentParser

/// `swiftlet viz`: seeing the mesh — live requests (`tap`, `top`).
struct VizCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "viz",
        abstract: "Sees the mesh: golden metrics (stat) and live requests through the proxies (tap, top).",
        subcommands: [VizStatCommand.self, VizTapCommand.self, VizTopCommand.self]
    )
}
