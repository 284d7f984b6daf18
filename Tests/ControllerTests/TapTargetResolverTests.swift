import Controller
import SwiftletAPI
import Testing
import Yams

/// What a tap names, resolved against the workloads: the pods to ask, what `--to` adds, and each refusal in words.
@Suite struct TapTargetResolverTests {
    static let identity = MeshIdentity()

    static func workload(
        _ name: String, namespace: String = "shop", owner: (String, String)? = ("Deployment", "web"), labels: [String: String] = [:],
        meshed: Bool = true, tapPort: Int? = 4190, tapDisabled: Bool = false
    ) -> WorkloadSpec {
        WorkloadSpec(
            key: ObjectKey(namespace: namespace, name: name), labels: labels, serviceAccount: "web", address: "10.0.0.\(name.count)",
            meshed: meshed, owner: owner.map { WorkloadSpec.Owner(kind: $0.0, name: $0.1) }, tapPort: tapPort, tapDisabled: tapDisabled)
    }

    static func target(_ type: String, _ name: String = "", namespace: String = "shop") -> Swiftlet_Tap_V1_Resource {
        .with {
            $0.type = type
            $0.name = name
            $0.namespace = namespace
        }
    }

    static func pods(_ target: Swiftlet_Tap_V1_Resource, _ workloads: [WorkloadSpec], selector: [String: String] = [:]) throws(TapError)
        -> [String]
    {
        try TapTargetResolver.pods(target, selector: selector, in: workloads, identity: Self.identity).pods.map(\.key.name)
    }

    @Test func eachKindSelectsItsPods() throws {
        let workloads = [
            Self.workload("web-1", labels: ["pod-template-hash": "5d9c7b"]),
            Self.workload("web-2", labels: ["pod-template-hash": "5d9c7b"]),
            Self.workload("db-0", owner: ("StatefulSet", "db")), Self.workload("log-x", owner: ("DaemonSet", "log")),
            Self.workload("backup-29000000-abc", owner: ("Job", "backup-29000000")), Self.workload("other", namespace: "else"),
        ]
        #expect(try Self.pods(Self.target("deployment", "web"), workloads) == ["web-1", "web-2"])
        #expect(try Self.pods(Self.target("deploy"), workloads) == ["web-1", "web-2"], "every Deployment of the namespace")
        #expect(try Self.pods(Self.target("statefulset", "db"), workloads) == ["db-0"])
        #expect(try Self.pods(Self.target("daemonset", "log"), workloads) == ["log-x"])
        #expect(try Self.pods(Self.target("replicaset", "web-5d9c7b"), workloads) == ["web-1", "web-2"], "the Deployment's and the hash")
        #expect(try Self.pods(Self.target("cronjob", "backup"), workloads) == ["backup-29000000-abc"], "through its Job's name")
        #expect(try Self.pods(Self.target("job", "backup-29000000"), workloads) == ["backup-29000000-abc"])
        #expect(try Self.pods(Self.target("pod", "db-0"), workloads) == ["db-0"])
        #expect(try Self.pods(Self.target("namespace", "shop", namespace: ""), workloads).count == 5, "the namespace's, not another's")
        #expect(try Self.pods(Self.target("deployment", "web"), workloads, selector: ["pod-template-hash": "5d9c7b"]).count == 2)
        let pods = try TapTargetResolver.pods(Self.target("pod", "db-0"), in: workloads, identity: Self.identity).pods
        #expect(pods.first?.identity == "web.shop.serviceaccount.identity.swiftlet.cluster.local", "the proxy's own identity")
        #expect(pods.first?.resource == ["namespace": "shop", "pod": "db-0", "serviceaccount": "web", "statefulset": "db"])
    }

    @Test func whatCannotBeTappedIsRefusedWithTheReason() {
        func refusal(_ target: Swiftlet_Tap_V1_Resource, _ workloads: [WorkloadSpec]) -> TapError? {
            do {
                _ = try Self.pods(target, workloads)
                return nil
            } catch {
                return error
            }
        }
        let missing = refusal(Self.target("deployment", "api"), [Self.workload("web-1")])
        #expect(missing?.code == .notFound && missing?.message == "no pods found for deployment/api in namespace shop")
        let unmeshed = refusal(
            Self.target("deployment", "web"), [Self.workload("web-1", meshed: false), Self.workload("web-2", meshed: false)])
        #expect(unmeshed?.code == .notTappable && unmeshed?.message.contains("has 2 pods and none is meshed") == true)
        let disabled = refusal(Self.target("deployment", "web"), [Self.workload("web-1", tapDisabled: true)])
        #expect(disabled?.message.contains("tap is disabled on every meshed pod of deployment/web") == true)
        let noPort = refusal(Self.target("deployment", "web"), [Self.workload("web-1", tapPort: nil)])
        #expect(noPort?.message.contains("declares no spec.tapPort") == true)
        #expect(refusal(Self.target("service", "web"), [Self.workload("web-1")])?.message.contains("cannot be a tap target") == true)
        #expect(refusal(Self.target("widget", "web"), [Self.workload("web-1")])?.code == .invalidRequest)
    }

    @Test func aPodThatCannotBeTappedIsSkippedAndSaidWhenOthersCan() throws {
        let (pods, skipped) = try TapTargetResolver.pods(
            Self.target("deployment", "web"), in: [Self.workload("web-1"), Self.workload("web-2", tapDisabled: true)],
            identity: Self.identity)
        #expect(pods.map(\.key.name) == ["web-1"])
        #expect(skipped == ["pod shop/web-2: tap is disabled (annotation viz.swiftlet.io/disable-tap)"])
    }

    @Test func toBecomesTheDestinationsLabels() throws {
        let match = try #require(try TapTargetResolver.destinationMatch(Self.target("svc", "api", namespace: "shop")))
        #expect(match.all.matches.map { "\($0.destinationLabel.key)=\($0.destinationLabel.value)" } == ["namespace=shop", "service=api"])
        let namespace = try #require(try TapTargetResolver.destinationMatch(Self.target("ns", "shop", namespace: "")))
        #expect(namespace.destinationLabel.key == "namespace" && namespace.destinationLabel.value == "shop")
        #expect(try TapTargetResolver.destinationMatch(Swiftlet_Tap_V1_Resource()) == nil, "no --to: no match")
        #expect(throws: TapError.self) { try TapTargetResolver.destinationMatch(Self.target("cronjob", "backup")) }
    }

    @Test func labelSelectorsAreKeyValuePairs() throws {
        #expect(try TapTargetResolver.labelSelector("app=web, tier==front") == ["app": "web", "tier": "front"])
        #expect(try TapTargetResolver.labelSelector("") == [:])
        #expect(throws: TapError.self) { try TapTargetResolver.labelSelector("app!=web") }
        #expect(throws: TapError.self) { try TapTargetResolver.labelSelector("app") }
    }

    @Test func theAPIPathNamesTheTargetBothWays() {
        for target in [Self.target("deployment", "web"), Self.target("pod"), Self.target("namespace", "shop")] {
            #expect(TapAPIPath.target(TapAPIPath.path(for: target)) == target, "\(TapAPIPath.path(for: target))")
        }
        #expect(
            TapAPIPath.path(for: Self.target("deploy", "web")) == "/apis/tap.swiftlet.io/v1alpha1/watch/namespaces/shop/deployments/web/tap"
        )
        #expect(TapAPIPath.target("/apis/tap.swiftlet.io/v1alpha1/watch/namespaces/shop/widgets/web/tap") == nil)
        #expect(TapAPIPath.target("/apis/tap.swiftlet.io/v1alpha1/watch/namespaces/shop/deployments/web") == nil)
        #expect(TapAPIPath.target("/apis/tap.swiftlet.io/v1alpha1/watch/namespaces//tap") == nil)
    }
}

/// `--max-rps` over all pods: one-second windows, a request admitted with all its events, addresses made names.
@Suite struct TapEventMergeTests {
    typealias Event = Swiftlet_Tap_V1_TapEvent

    static let pod = TapPod(
        key: ObjectKey(namespace: "shop", name: "web-1"), address: "10.0.0.5", tapPort: 4190, identity: "web",
        resource: ["namespace": "shop", "pod": "web-1", "deployment": "web"])

    static func event(_ stream: UInt64, _ kind: Int, source: UInt32 = 0x0A00_0009, clientID: String = "") -> Event {
        Event.with {
            $0.proxyDirection = .inbound
            $0.source = .with {
                $0.ip = .with { $0.ipv4 = source }
                $0.port = 50000
            }
            $0.tls = .with { $0.clientID = clientID }
            let id = Event.Http.StreamId.with { $0.stream = stream }
            $0.http = .with {
                switch kind {
                case 0: $0.requestInit = .with { $0.id = id }
                case 1: $0.responseInit = .with { $0.id = id }
                default: $0.responseEnd = .with { $0.id = id }
                }
            }
        }
    }

    @Test func theRateHoldsOverAllPodsAndARequestKeepsAllItsEvents() {
        var merge = TapEventMerge(maxRPS: 2, workloads: [])
        var passed: [String] = []
        for (stream, at) in [(1, 0.0), (2, 0.3), (3, 0.6), (4, 1.1)] as [(UInt64, Double)] {
            for kind in 0..<3 where merge.accept(Self.event(stream, kind), from: Self.pod, at: .seconds(at)) != nil {
                passed.append("\(stream).\(kind)")
            }
        }
        #expect(
            passed == ["1.0", "1.1", "1.2", "2.0", "2.1", "2.2", "4.0", "4.1", "4.2"], "the third in the first second is dropped whole")
        var window = TapRateWindow(perSecond: 1)
        let admitted = [window.admit(at: .zero), window.admit(at: .milliseconds(999)), window.admit(at: .seconds(1))]
        #expect(admitted == [true, false, true])
        #expect(TapRateWindow.share(100, pods: 3) == 33 && TapRateWindow.share(1, pods: 3) == 1, "Linkerd's split, at least one each")
    }

    @Test func addressesBecomeTheirWorkloadsAndThePodIsItsOwnEnd() throws {
        let workloads = [
            WorkloadSpec(
                key: ObjectKey(namespace: "shop", name: "bot-1"), labels: [:], serviceAccount: "bot", address: "10.0.0.9",
                owner: .init(kind: "Deployment", name: "bot")),
            WorkloadSpec(key: ObjectKey(namespace: "shop", name: "a-1"), labels: [:], serviceAccount: "a", address: "127.0.0.1"),
            WorkloadSpec(key: ObjectKey(namespace: "shop", name: "b-1"), labels: [:], serviceAccount: "b", address: "127.0.0.1"),
        ]
        var merge = TapEventMerge(maxRPS: 100, workloads: workloads)
        let first = merge.accept(Self.event(1, 0), from: Self.pod, at: .zero)
        let merged = try #require(first)
        #expect(merged.proxy == "shop/web-1")
        #expect(merged.destinationResource == Self.pod.resource, "inbound: the tapped pod is the destination")
        #expect(merged.sourceResource["pod"] == "bot-1" && merged.sourceResource["deployment"] == "bot")
        let second = merge.accept(
            Self.event(2, 0, source: 0x7F00_0001, clientID: "b.shop.serviceaccount.identity.swiftlet.cluster.local"), from: Self.pod,
            at: .zero)
        let shared = try #require(second)
        #expect(shared.sourceResource["pod"] == "b-1", "one address, two workloads: the client's identity tells them apart")
        let third = merge.accept(Self.event(3, 0, source: 0x7F00_0001), from: Self.pod, at: .zero)
        let unknown = try #require(third)
        #expect(unknown.sourceResource.isEmpty, "no guess")
    }
}

/// The injector gives each proxy its tap port and the tap identity, or — `viz.swiftlet.io/disable-tap` — no tap.
@Suite struct TapInjectionTests {
    static func proxy(annotations: String) throws -> Yams.Node {
        let template = try #require(try Yams.compose(yaml: "metadata: {name: web\(annotations)}\nspec: {containers: [{name: app}]}\n"))
        let injection = try ProxyInjector(values: MeshValues(version: "test"), trustAnchorsPEM: "").injection(
            template: template, owner: (kind: "Deployment", name: "web"), namespace: "shop")
        return injection.initContainers[1]
    }

    static func environment(_ proxy: Yams.Node) -> [String: String] {
        var environment: [String: String] = [:]
        for variable in proxy["env"]?.sequence ?? [] {
            if let name = variable["name"]?.string, let value = variable["value"]?.string { environment[name] = value }
        }
        return environment
    }

    @Test func aProxyServesTapToTheTapIdentityUnlessThePodTurnsItOff() throws {
        let proxy = try Self.proxy(annotations: "")
        let environment = Self.environment(proxy)
        #expect(environment["SWIFTLET_PROXY_TAP_SVC_NAME"] == MeshIdentity().tapServiceName)
        #expect(
            (proxy["ports"]?.sequence ?? []).contains {
                $0["name"]?.string == ProxyInjector.tapPortName && $0["containerPort"]?.int == 4190
            })
        let quiet = try Self.proxy(annotations: ", annotations: {viz.swiftlet.io/disable-tap: \"true\"}")
        #expect(Self.environment(quiet)["SWIFTLET_PROXY_TAP_DISABLED"] == "true")
        #expect(Self.environment(quiet)["SWIFTLET_PROXY_TAP_SVC_NAME"] == nil)
        #expect(!(quiet["ports"]?.sequence ?? []).contains { $0["name"]?.string == ProxyInjector.tapPortName }, "no port to find")
    }
}
