import ArgumentParser

/// `swiftlet viz`: seeing the mesh — live requests (`tap`, `top`).
struct VizCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "viz",
        abstract: "Sees the mesh: golden metrics (stat), who talks to whom (edges) and live requests through the proxies (tap, top).",
        subcommands: [
            VizInstallCommand.self, VizCheckCommand.self, VizStatCommand.self, VizStatInboundCommand.self, VizStatOutboundCommand.self,
            VizEdgesCommand.self,
            VizTapCommand.self,
            VizTopCommand.self,
        ]
    )
}
