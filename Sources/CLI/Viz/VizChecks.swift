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
        category.checks.append(
            await self.present(
                "the controller's inventory of pods is present", query: "count(controller_pod_info)",
                missing: "no controller_pod_info series", hint: "MESHED shows 0/0 until the controller is scraped"))
        category.checks.append(
            await self.present(
                "data plane proxies' request metrics are present",
                query: "count(request_total{job=\"\(PrometheusScrapeConfig.proxyJob)\"})",
                missing: "no proxy has counted a request yet", hint: "send some traffic through the mesh"))
        return CheckReport(categories: [category])
    }

    /// Some series answer `query`; a warning (`missing`, `hint`) when none does, an error when it cannot be asked.
    private func present(_ description: String, query: String, missing: String, hint: String) async -> CheckReport.Check {
        let asked = await self.check(description) { try await self.prometheus.query(query) }
        guard let samples = asked.samples else { return asked.check(hint: nil) }
        return samples.isEmpty ? asked.failed(missing, .warning, hint: hint) : .init(description: description, result: .success)
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
