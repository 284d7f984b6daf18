import Kubernetes
import Logging
import MeshModel
import ServiceLifecycle
import Synchronization

/// A `ClusterSource` over the Kubernetes API: lists, then watches, Pods, Services, EndpointSlices, HTTPRoutes,
/// GRPCRoutes and FaultInjections, each kind on its own, and hands the index what each event changes.
///
/// Each kind follows the API's protocol for caches (what client-go's reflector does): list once and remember the
/// list's resourceVersion; watch from it with bookmarks, moving the version on with every event; when a watch ends
/// or is cut, watch again from the last version (no relist); only `410 Gone` (the version is older than the API
/// keeps) makes it list again, once. Failures back off, up to 30 s. A kind the cluster does not serve (the Gateway
/// API's CRDs not installed) is looked for again every 30 s.
public struct KubernetesSource: Service {
    let client: KubernetesClient
    let index: ClusterIndex
    let metrics: ControllerMetrics
    let logger: Logger
    private let listed: ListedKinds

    /// The kinds followed, in the order their first lists are awaited.
    static let kinds: [ResourcePath] = [
        .services, .pods, .endpointSlices, .httpRoutes, .grpcRoutes, FaultInjectionSpec.resource, BackendTrafficPolicySpec.resource,
    ]

    public init(client: KubernetesClient, index: ClusterIndex, metrics: ControllerMetrics, logger: Logger) {
        self.client = client
        self.index = index
        self.metrics = metrics
        self.logger = logger
        self.listed = ListedKinds(count: Self.kinds.count)
    }

    /// Whether every kind was listed once (the controller is ready then).
    public var isLoaded: Bool { self.listed.isDone }

    /// Returns once every kind was listed once.
    public func loaded() async throws { try await self.listed.wait() }

    public func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await self.follow(.services, as: GenericObject.self, Self.service) }
            group.addTask { try await self.follow(.pods, as: Pod.self, Self.pod) }
            group.addTask { try await self.follow(.endpointSlices, as: EndpointSlice.self, Self.endpointSlice) }
            group.addTask { try await self.follow(.httpRoutes, as: GenericObject.self, Self.route(.http)) }
            group.addTask { try await self.follow(.grpcRoutes, as: GenericObject.self, Self.route(.grpc)) }
            group.addTask { try await self.follow(FaultInjectionSpec.resource, as: GenericObject.self, Self.faultInjection) }
            // Experimental (the Gateway API's v1.3+ experimental channel): not served on most clusters.
            group.addTask { try await self.follow(BackendTrafficPolicySpec.resource, as: GenericObject.self, Self.backendTrafficPolicy) }
        }
    }

    /// What one object (nil: its removal) changes; `throws` when the object is one the mesh cannot read (the
    /// last good version stays).
    typealias Translate<Object> = @Sendable (inout ClusterDelta, ObjectKey, Object?) throws(ManifestError) -> Void

    /// Lists and watches one kind for as long as the service runs.
    func follow<Object: KubernetesObject>(_ resource: ResourcePath, as: Object.Type, _ translate: Translate<Object>) async throws {
        var known = Set<ObjectKey>()
        var version: String? = nil
        var failures = 0
        var counted = false
        var reported: [ObjectKey: ManifestError] = [:]
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                if version == nil {
                    let (items, listVersion) = try await self.client.list(resource, as: Object.self)
                    self.metrics.kubernetesListed(resource)
                    var delta = ClusterDelta()
                    var seen = Set<ObjectKey>()
                    for item in items {
                        guard let key = item.metadata.objectKey else { continue }
                        seen.insert(key)
                        self.translate(item, key, translate, into: &delta, reported: &reported)
                    }
                    for gone in known.subtracting(seen) {
                        try? translate(&delta, gone, nil)
                        self.forget(gone, reported: &reported)
                    }
                    known = seen
                    version = listVersion
                    self.index.apply(delta)
                    if !counted {
                        counted = true
                        self.listed.markOne()
                    }
                    self.logger.debug(
                        "listed", metadata: ["resource": "\(resource)", "objects": "\(items.count)", "version": "\(listVersion)"])
                }
                let timeout = Int.random(in: 240...360)  // spread the watches' renewals, as client-go does
                self.metrics.kubernetesWatched(resource)
                try await self.client.watch(resource, from: version!, timeoutSeconds: timeout, as: Object.self) { events in
                    var delta = ClusterDelta()
                    for event in events {
                        switch event {
                        case .added(let object), .modified(let object):
                            if let key = object.metadata.objectKey {
                                known.insert(key)
                                self.translate(object, key, translate, into: &delta, reported: &reported)
                            }
                        case .deleted(let object):
                            if let key = object.metadata.objectKey {
                                known.remove(key)
                                try? translate(&delta, key, nil)
                                self.forget(key, reported: &reported)
                            }
                        case .bookmark, .error:
                            break
                        }
                        if let next = event.resourceVersion, !next.isEmpty { version = next }
                    }
                    self.metrics.kubernetesEvents(resource, count: events.count)
                    if !delta.isEmpty { self.index.apply(delta) }
                }
                failures = 0
            } catch let error as KubernetesError where error.code == .gone {
                self.logger.info(
                    "resource version too old; listing again", metadata: ["resource": "\(resource)", "version": "\(version ?? "")"])
                self.metrics.kubernetesRelisted(resource)
                version = nil
            } catch let error as KubernetesError where error.status == 404 && version == nil {
                // The kind is not served (its CRD is not installed): nothing of it, and look again later.
                if !counted {
                    counted = true
                    self.listed.markOne()
                    self.logger.notice(
                        "the cluster does not serve this kind; looking again every 30 s", metadata: ["resource": "\(resource)"])
                }
                var delta = ClusterDelta()
                for gone in known { try? translate(&delta, gone, nil) }
                known = []
                self.index.apply(delta)
                try? await Task.sleep(for: .seconds(30))
            } catch is CancellationError {
                return
            } catch {
                if Task.isCancelled { return }
                failures += 1
                let delay = Self.backoff(failures: failures)
                // A watch cut once (an API server restarting, a load balancer's idle timeout) is routine; failing
                // again is not.
                self.logger.log(
                    level: failures == 1 ? .info : .warning, "listing or watching failed; trying again",
                    metadata: ["resource": "\(resource)", "error": "\(error)", "retry_in_ms": "\(delay)", "failures": "\(failures)"]
                )
                try? await Task.sleep(for: .milliseconds(delay))
            }
        }
    }

    /// Exponential from 100 ms to 30 s, with jitter (half to all of it) so many controllers do not retry in step.
    static func backoff(failures: Int) -> Int {
        let ceiling = min(30_000, 100 << min(failures - 1, 9))
        return Int.random(in: ceiling / 2...ceiling)
    }

    private func translate<Object>(
        _ object: Object, _ key: ObjectKey, _ translate: Translate<Object>, into delta: inout ClusterDelta,
        reported: inout [ObjectKey: ManifestError]
    ) {
        do {
            try translate(&delta, key, object)
            self.forget(key, reported: &reported)
        } catch {
            self.metrics.recordManifest(file: error.file, error: error)
            if reported.updateValue(error, forKey: key) != error {
                self.logger.error("object rejected; its last good version stays in force", metadata: ["error": "\(error)"])
            }
        }
    }

    /// An object in error was fixed or went away: its error leaves the metrics. Only objects once in error are
    /// looked up, so the thousands of pods that never are cost nothing here.
    private func forget(_ key: ObjectKey, reported: inout [ObjectKey: ManifestError]) {
        if let old = reported.removeValue(forKey: key) { self.metrics.recordManifest(file: old.file, error: nil) }
    }

    // MARK: translations

    static let service: Translate<GenericObject> = { delta, key, object throws(ManifestError) in
        guard let object else {
            delta.services[key] = .some(nil)
            return
        }
        // ExternalName Services and Services without ports have no endpoints to balance over.
        guard object.json["spec"]?["type"]?.stringValue != "ExternalName", object.json["spec"]?["ports"] != nil else {
            delta.services[key] = .some(nil)
            return
        }
        if case .service(let service)? = try ManifestParser.object(json: object.json, name: "Service \(key)") {
            delta.services[key] = service
        }
    }

    static let pod: Translate<Pod> = { delta, key, pod in
        delta.workloads[key] = .some(pod.flatMap(Self.workload))
    }

    static let endpointSlice: Translate<EndpointSlice> = { delta, key, slice in
        delta.endpointSlices[key] = .some(slice.flatMap { Self.endpointSliceSpec($0, key: key) })
    }

    static func route(_ kind: Route.Kind) -> Translate<GenericObject> {
        { delta, key, object throws(ManifestError) in
            let id = RouteObjectID(kind: kind, key: key)
            guard let object else {
                delta.routes[id] = .some(nil)
                return
            }
            if case .route(let route)? = try ManifestParser.object(json: object.json, name: "\(kind.rawValue) \(key)") {
                delta.routes[id] = route
            }
        }
    }

    static let faultInjection: Translate<GenericObject> = { delta, key, object throws(ManifestError) in
        guard let object else {
            delta.faultInjections[key] = .some(nil)
            return
        }
        if case .faultInjection(let fault)? = try ManifestParser.object(json: object.json, name: "FaultInjection \(key)") {
            delta.faultInjections[key] = fault
        }
    }

    static let backendTrafficPolicy: Translate<GenericObject> = { delta, key, object throws(ManifestError) in
        guard let object else {
            delta.backendTrafficPolicies[key] = .some(nil)
            return
        }
        if case .backendTrafficPolicy(let policy)? = try ManifestParser.object(json: object.json, name: "XBackendTrafficPolicy \(key)") {
            delta.backendTrafficPolicies[key] = policy
        }
    }

    /// A running pod with an IP; its identity from its ServiceAccount, its workload from its controller (a
    /// ReplicaSet made by a Deployment is named after the Deployment).
    static func workload(_ pod: Pod) -> WorkloadSpec? {
        guard let name = pod.metadata.name, let ip = pod.status?.podIP, !ip.isEmpty else { return nil }
        if let phase = pod.status?.phase, phase == "Succeeded" || phase == "Failed" { return nil }
        let labels = pod.metadata.labels ?? [:]
        var ports: [WorkloadSpec.Port] = []
        for container in pod.spec?.containers ?? [] {
            for port in container.ports ?? [] where port.protocol == nil || port.protocol == "TCP" {
                ports.append(WorkloadSpec.Port(name: port.name, port: port.containerPort))
            }
        }
        var owner: WorkloadSpec.Owner? = nil
        if let reference = pod.metadata.controller {
            owner = WorkloadSpec.Owner(kind: reference.kind, name: reference.name)
            if reference.kind == "ReplicaSet", let hash = labels["pod-template-hash"], reference.name.hasSuffix("-" + hash) {
                owner = WorkloadSpec.Owner(kind: "Deployment", name: String(reference.name.dropLast(hash.count + 1)))
            }
        }
        let meshed = labels[MeshLabels.controlPlaneNamespace] != nil
        // The proxy (a native sidecar: an init container) names its tap port; pods injected before it did use 4190.
        let proxyPorts = ((pod.spec?.initContainers ?? []) + (pod.spec?.containers ?? [])).flatMap { $0.ports ?? [] }
        let tapPort = proxyPorts.first { $0.name == ProxyInjector.tapPortName }?.containerPort ?? (meshed ? ProxyInjector.tapPort : nil)
        return WorkloadSpec(
            key: ObjectKey(namespace: pod.metadata.namespace ?? "default", name: name), labels: labels,
            serviceAccount: pod.spec?.serviceAccountName ?? "default", address: ip, ports: ports,
            meshed: meshed, owner: owner, tapPort: tapPort,
            tapDisabled: pod.metadata.annotations?[WorkloadSpec.disableTapAnnotation] == "true"
        )
    }

    static func endpointSliceSpec(_ slice: EndpointSlice, key: ObjectKey) -> EndpointSliceSpec? {
        guard let service = slice.metadata.labels?[EndpointSlice.serviceNameLabel], slice.addressType != "FQDN" else { return nil }
        let ports = (slice.ports ?? []).compactMap { port in
            port.port.map {
                EndpointSliceSpec.Port(name: port.name.flatMap { $0.isEmpty ? nil : $0 }, port: $0, appProtocol: port.appProtocol)
            }
        }
        let endpoints = (slice.endpoints ?? []).compactMap { endpoint -> EndpointSliceSpec.Endpoint? in
            // Only the first address counts (the API's rule); `ready` unset means ready.
            guard let address = endpoint.addresses.first else { return nil }
            let pod = endpoint.targetRef?.kind == "Pod" ? endpoint.targetRef?.name : nil
            return EndpointSliceSpec.Endpoint(address: address, ready: endpoint.conditions?.ready ?? true, pod: pod)
        }
        return EndpointSliceSpec(key: key, service: ObjectKey(namespace: key.namespace, name: service), ports: ports, endpoints: endpoints)
    }
}

extension ObjectMeta {
    var objectKey: ObjectKey? {
        guard let name else { return nil }
        return ObjectKey(namespace: self.namespace ?? "", name: name)
    }
}

/// Counts the kinds listed once; done when all were.
final class ListedKinds: Sendable {
    private let remaining: Atomic<Int>
    private let latch = FirstLoad()

    init(count: Int) { self.remaining = Atomic(count) }

    var isDone: Bool { self.latch.isDone }

    func markOne() {
        if self.remaining.subtract(1, ordering: .relaxed).newValue == 0 { self.latch.markDone() }
    }

    func wait() async throws { try await self.latch.wait() }
}
