import ArgumentParser
import Kubernetes

/// `swiftlet viz install`: viz's Prometheus for one `kubectl apply -f -`, or the address of one's own.
struct VizInstallCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "install",
        abstract:
            "Prints viz's manifests (its Prometheus, scraping every proxy and the controller): swiftlet viz install | kubectl apply -f -",
        discussion: """
            The namespace swiftlet-viz, a Prometheus (10 s scrapes, 6 h retention, 256 MiB requested) allowed to list pods, \
            and the ConfigMap swiftlet-viz-config saying where viz reads metrics. With --prometheus-url, no Prometheus: \
            add the jobs of deploy/prometheus/swiftlet-proxies.yaml to your own. The tap API comes with swiftlet install.
            """
    )

    @Option(help: "Use this Prometheus instead of deploying one.")
    var prometheusUrl: String?

    @Option(help: "The Prometheus image.")
    var prometheusImage = VizInstallManifest().image

    @Option(help: "How long Prometheus keeps samples (e.g. 6h, 2d).")
    var retention = VizInstallManifest().retention

    @Option(help: "The namespace of the control plane whose proxies are scraped.")
    var controlPlaneNamespace = "swiftlet"

    @Option(name: [.customShort("o"), .customLong("output")], help: "Output format: yaml or json.")
    var output = "yaml"

    func run() throws {
        guard ["yaml", "json"].contains(self.output) else { throw ValidationError("-o: \"\(self.output)\" is not yaml or json") }
        if let url = self.prometheusUrl, !(url.hasPrefix("http://") || url.hasPrefix("https://")) {
            throw ValidationError("--prometheus-url \(url): an http:// or https:// URL")
        }
        var manifest = VizInstallManifest()
        manifest.prometheusURL = self.prometheusUrl
        manifest.image = self.prometheusImage
        manifest.retention = self.retention
        manifest.controlPlaneNamespace = self.controlPlaneNamespace
        let documents = manifest.documents
        let stream = try DocumentStream(parsing: documents.map { "---\n" + $0 }.joined())
        guard stream.documents.count == documents.count else {
            throw CommandFailure("internal error: rendered \(documents.count) documents but they parse as \(stream.documents.count)")
        }
        print(self.output == "json" ? stream.json() : documents.map { "---\n" + $0 }.joined(), terminator: "")
    }
}
