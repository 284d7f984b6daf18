import ArgumentParser

/// `swiftlet viz check`: whether viz can show the mesh — Prometheus reachable, scraping the controller and the
/// proxies, their metrics present. Exits 1 when a check fails.
struct VizCheckCommand: AsyncCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Checks that viz can read the mesh: Prometheus reachable, scraping the controller and proxies (exit 1 on any ×)."
    )

    @Option(name: [.customShort("o"), .customLong("output")], help: "Output format: table or json.")
    var output = "table"

    @Option(help: "The Prometheus to check (default: $SWIFTLET_PROMETHEUS_URL, else http://127.0.0.1:9090).")
    var prometheusUrl: String?

    func execute() async throws {
        guard ["table", "json"].contains(self.output) else { throw ValidationError("-o: \"\(self.output)\" is not table or json") }
        let report = await VizChecks(prometheus: VizStatCommand.client(self.prometheusUrl)).run()
        print(self.output == "json" ? report.json : report.text, terminator: "")
        if !report.success { throw ExitCode(1) }
    }
}
