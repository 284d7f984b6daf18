import ArgumentParser

/// `swiftlet viz`: seeing the mesh — live requests (`tap`, `top`).
struct VizCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "viz",
        abstract: "Sees the mesh: live requests through the proxies (tap, top).",
        subcommands: [VizTapCommand.self, VizTopCommand.self]
    )
}
