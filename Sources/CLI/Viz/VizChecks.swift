import Controller

/// What `swiftlet viz check` looks at: that Prometheus answers, scrapes the controller and the proxies, and holds
/// their metrics (Linkerd's `linkerd viz check`, for the parts that are ours to run).
struct VizChecks {
    let prometheus: PrometheusClient

    func run() async -> CheckReport {
        var category = CheckReport.Category(name: "swiftlet-viz")
        let reachable = await self.check("Prometheus is reachable") { try await self.prometheus.query("vector(1)") }
        category.checks.append(
            reachable.check(
                hint: "run one with `swiftlet controller --manifests DIR --prometheus 127.0.0.1:9090` (local mode; the demo does), "
                    + "or give --prometheus-url"))
        guard reachable.samples != nil else { return CheckReport(categories: [category]) }
        category.checks.append(await self.scrapes(job: PrometheusScrapeConfig.controllerJob, what: "the controller"))
        category.checks.append(await self.scrapes(job: PrometheusScrapeConfig.proxyJob, what: "the data plane's proxies"))
        let inventory = await self.check("the controller's inventory of pods is present") {
            try await self.prometheus.query("count(controller_pod_info)")
        }
        category.checks.append(
            inventory.samples.map {
                $0.isEmpty
                    ? inventory.failed("no controller_pod_info series", .warning, hint: "MESHED shows 0/0 until the controller is scraped")
                    : .init(description: inventory.description, result: .success)
            } ?? inventory.check(hint: nil))
        let traffic = await self.check("data plane proxies' request metrics are present") {
            try await self.prometheus.query("count(request_total{job=\"\(PrometheusScrapeConfig.proxyJob)\"})")
        }
        category.checks.append(
            traffic.samples.map {
                $0.isEmpty
                    ? traffic.failed("no proxy has counted a request yet", .warning, hint: "send some traffic through the mesh")
                    : .init(description: traffic.description, result: .success)
            } ?? traffic.check(hint: nil))
        return CheckReport(categories: [category])
    }

    /// A job's targets: all up, some down (a warning naming them), or none (an error).
    private func scrapes(job: String, what: String) async -> CheckReport.Check {
        let asked = await self.check("Prometheus scrapes \(what)") { try await self.prometheus.query("up{job=\"\(job)\"}") }
        guard let samples = asked.samples else { return asked.check(hint: nil) }
        guard !samples.isEmpty else {
            return asked.failed(
                "no target of job \(job)", .error,
                hint: job == PrometheusScrapeConfig.proxyJob
                    ? "local Workloads need spec.adminPort; on Kubernetes, pods need the proxy (swiftlet inject)"
                    : "the controller's Prometheus scrapes it: run it with --prometheus")
        }
        let down = samples.filter { $0.value != 1 }.map { $0.labels["pod"] ?? $0.labels["instance"] ?? "?" }.sorted()
        guard down.isEmpty else {
            return asked.failed(
                "\(down.count) of \(samples.count) down: \(down.joined(separator: ", "))", down.count == samples.count ? .error : .warning,
                hint: "a target is down when its /metrics does not answer: is its proxy running?")
        }
        var check = CheckReport.Check(description: asked.description, result: .success)
        check.note = "\(samples.count) target\(samples.count == 1 ? "" : "s") up"
        return check
    }

    struct Asked {
        var description: String
        var samples: [PrometheusSample]?
        var error: String?

        func check(hint: String?) -> CheckReport.Check {
            .init(description: self.description, result: self.error == nil ? .success : .error, error: self.error, hint: hint)
        }

        func failed(_ error: String, _ result: CheckReport.Result, hint: String? = nil) -> CheckReport.Check {
            .init(description: self.description, result: result, error: error, hint: hint)
        }
    }

    private func check(_ description: String, _ query: () async throws -> [PrometheusSample]) async -> Asked {
        do {
            return Asked(description: description, samples: try await query())
        } catch {
            return Asked(description: description, samples: nil, error: "\(error)")
        }
    }
}
