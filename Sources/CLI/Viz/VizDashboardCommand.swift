import ArgumentParser
import AsyncHTTPClient
import Foundation

/// `swiftlet viz dashboard`: opens the dashboard a local controller serves (`--dashboard`; the demo runs one on
/// 50750, Linkerd's port), after checking that it answers.
struct VizDashboardCommand: AsyncCommand {
    static let configuration = CommandConfiguration(
        commandName: "dashboard",
        abstract: "Opens the dashboard: the mesh's live topology, each workload's golden metrics, routes and backends.",
        discussion: """
            The dashboard is served by the controller (swiftlet controller --dashboard ADDR; swiftlet demo runs one). \
            It answers only the loopback names (DNS rebinding), so open it as http://localhost:PORT or 127.0.0.1.
            """
    )

    @Option(help: "Where the controller serves the dashboard.")
    var dashboardAddr = "127.0.0.1:50750"

    @Option(help: "url: print the address only; browser: open it too ($BROWSER, else xdg-open).")
    var show = "browser"

    func execute() async throws {
        guard ["url", "browser"].contains(self.show) else { throw ValidationError("--show must be url or browser") }
        let (host, port) = try ControllerCommand.address(self.dashboardAddr, option: "--dashboard-addr")
        let url = "http://\(host.contains(":") ? "[\(host)]" : host):\(port)/"
        let status = try? await HTTPClient.shared.execute(HTTPClientRequest(url: url + "api/v1/namespaces"), timeout: .seconds(5)).status
        guard status == .ok else {
            throw CommandFailure(
                "no dashboard answers at \(url): run `swiftlet demo`, or `swiftlet controller --manifests DIR --prometheus 127.0.0.1:9090 "
                    + "--dashboard \(self.dashboardAddr)`")
        }
        print("Swiftlet dashboard available at:\n\(url)")
        guard self.show == "browser" else { return }
        let opener = ProcessInfo.processInfo.environment["BROWSER"] ?? "xdg-open"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [opener, url]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            FileHandle.standardError.write(Data("could not open a browser (\(opener)); open \(url) yourself\n".utf8))
        }
    }
}
