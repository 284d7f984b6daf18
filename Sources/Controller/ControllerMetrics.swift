import Foundation
import Kubernetes
import Synchronization

/// The controller's own counters, rendered at its admin `/metrics`.
public final class ControllerMetrics: Sendable {
    let manifestErrors = Atomic<UInt64>(0)
    let manifestReloads = Atomic<UInt64>(0)
    let destinationStreams = Atomic<Int64>(0)
    let destinationUpdates = Atomic<UInt64>(0)
    let destinationSubscriptions = Atomic<Int64>(0)
    let policyStreams = Atomic<Int64>(0)
    let policySubscriptions = Atomic<Int64>(0)
    let certificatesIssued = Atomic<UInt64>(0)
    let certificatesRefused = Atomic<UInt64>(0)
    let issuerReloads = Atomic<UInt64>(0)
    let issuerReloadFailures = Atomic<UInt64>(0)
    private let lastErrors = Mutex<[String: ManifestError]>([:])
    /// Per manifest file: how often it was read, and its latest version's error (`/manifests`).
    private let manifestLoads = Mutex<[String: Int]>([:])
    /// Files whose newest version was rejected while an earlier one stays in force.
    private let keptPrevious = Mutex<[String: Bool]>([:])
    /// Per resource (`pods`, `httproutes.gateway.networking.k8s.io`): lists, watches opened, events, relists after 410.
    private let kubernetes = Mutex<[String: KubernetesCounters]>([:])

    struct KubernetesCounters {
        var lists: UInt64 = 0
        var watches: UInt64 = 0
        var events: UInt64 = 0
        var relists: UInt64 = 0
    }

    public init() {}

    public func recordReload() { self.manifestReloads.add(1, ordering: .relaxed) }

    /// A file that failed to parse (its previous version stays in force); `nil` clears the file's error.
    public func recordManifest(file: String, error: ManifestError?, keptPrevious: Bool = false) {
        if error != nil { self.manifestErrors.add(1, ordering: .relaxed) }
        self.lastErrors.withLock { $0[file] = error }
        self.manifestLoads.withLock { $0[file, default: 0] += 1 }
        self.keptPrevious.withLock { $0[file] = error != nil && keptPrevious }
    }

    /// Each manifest file as last read, for the admin's `/manifests` (what `swiftlet demo` shows of an edit): one line
    /// per file, tab-separated — its name, how often it was read, then `ok`, or `error` (or `error-kept`: an earlier
    /// version stays in force), the line and the reason.
    public func renderManifests() -> String {
        let loads = self.manifestLoads.withLock { $0 }
        let errors = self.lastErrors.withLock { $0 }
        let kept = self.keptPrevious.withLock { $0 }
        return loads.keys.sorted().map { file in
            let state =
                errors[file].map {
                    "\(kept[file] == true ? "error-kept" : "error")\t\($0.line)\t\($0.message.replacingOccurrences(of: "\n", with: " "))"
                } ?? "ok"
            return "\(file)\t\(loads[file]!)\t\(state)\n"
        }.joined()
    }

    /// The files whose latest version is in error, with the error.
    public var currentErrors: [ManifestError] {
        self.lastErrors.withLock { Array($0.values).sorted { $0.file < $1.file } }
    }

    func streamOpened(_ api: WatchAPIKind = .destination) { self.streamsChanged(by: 1, api) }
    func streamClosed(_ api: WatchAPIKind = .destination) { self.streamsChanged(by: -1, api) }
    func updateSent() { self.destinationUpdates.add(1, ordering: .relaxed) }
    func subscriptionsChanged(by delta: Int64, _ api: WatchAPIKind = .destination) {
        switch api {
        case .destination: self.destinationSubscriptions.add(delta, ordering: .relaxed)
        case .policy: self.policySubscriptions.add(delta, ordering: .relaxed)
        }
    }

    private func streamsChanged(by delta: Int64, _ api: WatchAPIKind) {
        switch api {
        case .destination: self.destinationStreams.add(delta, ordering: .relaxed)
        case .policy: self.policyStreams.add(delta, ordering: .relaxed)
        }
    }
    func kubernetesListed(_ resource: ResourcePath) { self.kubernetes.withLock { $0["\(resource)", default: .init()].lists += 1 } }
    func kubernetesWatched(_ resource: ResourcePath) { self.kubernetes.withLock { $0["\(resource)", default: .init()].watches += 1 } }
    func kubernetesRelisted(_ resource: ResourcePath) { self.kubernetes.withLock { $0["\(resource)", default: .init()].relists += 1 } }
    func kubernetesEvents(_ resource: ResourcePath, count: Int) {
        self.kubernetes.withLock { $0["\(resource)", default: .init()].events += UInt64(count) }
    }

    func certificateIssued() { self.certificatesIssued.add(1, ordering: .relaxed) }
    func certificateRefused() { self.certificatesRefused.add(1, ordering: .relaxed) }
    /// Returns how many reloads there have been.
    func issuerReloaded() -> UInt64 { self.issuerReloads.add(1, ordering: .relaxed).newValue }
    func issuerReloadFailed() { self.issuerReloadFailures.add(1, ordering: .relaxed) }

    /// One series per pod (local Workload) the controller knows, as kube-state-metrics' `kube_pod_info`: its
    /// namespace, name, owner (labelled as Prometheus labels the proxies' series: `deployment`, `k8s_job`, …), service
    /// account (whose identity its proxy presents: `viz edges` names a client by it) and whether a proxy runs beside
    /// it. `viz stat`'s MESHED column counts them; the controller job is scraped with
    /// `honor_labels` so that these labels stay as they are.
    static func podInfo(_ workloads: some Collection<WorkloadSpec>) -> String {
        var text =
            "# HELP controller_pod_info Pods known, with their owner and whether they are meshed.\n# TYPE controller_pod_info gauge\n"
        func quoted(_ value: String) -> String {
            "\""
                + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
                .replacingOccurrences(of: "\n", with: "\\n") + "\""
        }
        for workload in workloads.sorted(by: { ($0.key.namespace, $0.key.name) < ($1.key.namespace, $1.key.name) }) {
            var labels = "namespace=\(quoted(workload.key.namespace)),pod=\(quoted(workload.key.name))"
            if let owner = workload.owner {
                let kind = owner.kind == "Job" ? "k8s_job" : owner.kind.lowercased()
                labels += ",\(kind)=\(quoted(owner.name))"
            }
            labels += ",serviceaccount=\(quoted(workload.serviceAccount)),meshed=\"\(workload.meshed)\""
            text += "controller_pod_info{\(labels)} 1\n"
        }
        return text
    }

    public func render(index: ClusterIndex, processLines: String = "") -> String {
        let snapshot = index.snapshot
        var text = ""
        text += "# HELP controller_manifest_errors_total Manifest files that failed to parse; their last good version stays in force.\n"
        text += "# TYPE controller_manifest_errors_total counter\n"
        text += "controller_manifest_errors_total \(self.manifestErrors.load(ordering: .relaxed))\n"
        text += "# HELP controller_manifest_files_in_error Files whose newest version is in error.\n"
        text += "# TYPE controller_manifest_files_in_error gauge\n"
        text += "controller_manifest_files_in_error \(self.currentErrors.count)\n"
        text += "# HELP controller_manifest_reloads_total Times the manifest directory was read.\n"
        text += "# TYPE controller_manifest_reloads_total counter\n"
        text += "controller_manifest_reloads_total \(self.manifestReloads.load(ordering: .relaxed))\n"
        text += "# HELP controller_services Services known.\n# TYPE controller_services gauge\n"
        text += "controller_services \(snapshot.services.count)\n"
        text += "# HELP controller_workloads Workloads known.\n# TYPE controller_workloads gauge\n"
        text += "controller_workloads \(snapshot.workloads.count)\n"
        text += Self.podInfo(snapshot.workloads.values)
        text += "# HELP destination_streams Open Destination.Get and Destination.Watch streams.\n# TYPE destination_streams gauge\n"
        text += "destination_streams \(self.destinationStreams.load(ordering: .relaxed))\n"
        text +=
            "# HELP destination_subscriptions Destinations followed on Destination.Watch streams.\n# TYPE destination_subscriptions gauge\n"
        text += "destination_subscriptions \(self.destinationSubscriptions.load(ordering: .relaxed))\n"
        text += "# HELP policy_streams Open OutboundPolicies.Watch streams.\n# TYPE policy_streams gauge\n"
        text += "policy_streams \(self.policyStreams.load(ordering: .relaxed))\n"
        text += "# HELP policy_subscriptions Service ports followed on OutboundPolicies.Watch streams.\n# TYPE policy_subscriptions gauge\n"
        text += "policy_subscriptions \(self.policySubscriptions.load(ordering: .relaxed))\n"
        text += "# HELP destination_updates_total Updates sent on Destination.Get streams.\n"
        text += "# TYPE destination_updates_total counter\n"
        text += "destination_updates_total \(self.destinationUpdates.load(ordering: .relaxed))\n"
        text += "# HELP identity_certificates_issued_total Workload certificates signed.\n"
        text += "# TYPE identity_certificates_issued_total counter\n"
        text += "identity_certificates_issued_total \(self.certificatesIssued.load(ordering: .relaxed))\n"
        text += "# HELP identity_certificates_refused_total Certify requests refused (bad token, CSR or identity).\n"
        text += "# TYPE identity_certificates_refused_total counter\n"
        text += "identity_certificates_refused_total \(self.certificatesRefused.load(ordering: .relaxed))\n"
        text += "# HELP identity_issuer_reloads_total Times changed issuer credentials (files or Secret) were put in force.\n"
        text += "# TYPE identity_issuer_reloads_total counter\n"
        text += "identity_issuer_reloads_total \(self.issuerReloads.load(ordering: .relaxed))\n"
        text += "# HELP identity_issuer_reload_errors_total Times changed issuer credentials were rejected (the previous ones stay).\n"
        text += "# TYPE identity_issuer_reload_errors_total counter\n"
        text += "identity_issuer_reload_errors_total \(self.issuerReloadFailures.load(ordering: .relaxed))\n"
        let kubernetes = self.kubernetes.withLock { $0 }.sorted { $0.key < $1.key }
        if !kubernetes.isEmpty {
            let families: [(String, String, KeyPath<KubernetesCounters, UInt64>)] = [
                ("kubernetes_lists_total", "Lists of a resource (the first, and one after each 410 Gone).", \.lists),
                ("kubernetes_watches_total", "Watches of a resource opened (each resumes from the last version seen).", \.watches),
                ("kubernetes_watch_events_total", "Watch events received, bookmarks included.", \.events),
                ("kubernetes_relists_total", "Lists forced by 410 Gone (the version to resume from was too old).", \.relists),
            ]
            for (name, help, field) in families {
                text += "# HELP controller_\(name) \(help)\n# TYPE controller_\(name) counter\n"
                for (resource, counters) in kubernetes {
                    text += "controller_\(name){resource=\"\(resource)\"} \(counters[keyPath: field])\n"
                }
            }
        }
        text += processLines
        return text
    }
}
