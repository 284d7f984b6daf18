import Testing

@testable import Controller

/// The PromQL `viz stat` asks, Linkerd's queries with our labels, and the arithmetic that makes rows of the answers.
@Suite struct StatQueryTests {
    @Test func aDeploymentIsSeenFromItsOwnProxiesInboundSide() {
        let query = StatQuery(resource: .deployment, name: nil, namespace: "emojivoto", window: 60)
        #expect(
            query.requests
                == #"sum(increase(response_total{direction="inbound", namespace="emojivoto", deployment!=""}[60s])) "#
                + #"by (namespace, deployment, classification, tls)"#
        )
        #expect(
            query.latency(0.95)
                == #"histogram_quantile(0.95, sum(irate(response_latency_ms_bucket{direction="inbound", "#
                + #"namespace="emojivoto", deployment!=""}[60s])) by (le, namespace, deployment))"#
        )
        #expect(
            query.openConnections
                == #"sum(tcp_open_connections{direction="inbound", peer="src", namespace="emojivoto", "#
                + #"deployment!=""}) by (namespace, deployment)"#
        )
        #expect(
            query.meshed
                == #"count(max(controller_pod_info{namespace="emojivoto", deployment!=""}) by (namespace, deployment, pod, meshed)) "#
                + #"by (namespace, deployment, meshed)"#)
    }

    @Test func aServiceIsSeenFromItsClientsAndHasNoMeshedCount() {
        let query = StatQuery(resource: .service, name: "voting", namespace: nil, window: 30)
        #expect(
            query.requests
                == #"sum(increase(response_total{direction="outbound", dst_service="voting"}[30s])) by "#
                + #"(dst_namespace, dst_service, classification, tls)"#
        )
        #expect(query.meshed == nil)
    }

    @Test func toNarrowsToOutboundTrafficAndFromReadsTheSourcesOutboundSide() {
        var query = StatQuery(
            resource: .deployment, name: "web", namespace: "emojivoto", window: 60,
            to: .init(resource: .service, name: "voting", namespace: "emojivoto"))
        #expect(
            query.requests
                == #"sum(increase(response_total{direction="outbound", dst_namespace="emojivoto", "#
                + #"dst_service="voting", namespace="emojivoto", deployment="web"}[60s])) by (namespace, "#
                + #"deployment, classification, tls)"#
        )
        query.to = nil
        query.from = .init(resource: .deployment, name: "vote-bot", namespace: "emojivoto")
        #expect(
            query.requests
                == #"sum(increase(response_total{direction="outbound", namespace="emojivoto", "#
                + #"deployment="vote-bot", dst_namespace="emojivoto", dst_deployment="web"}[60s])) by "#
                + #"(dst_namespace, dst_deployment, classification, tls)"#
        )
    }

    @Test func aJobIsK8sJobAndANamespaceGroupsByNamespaceAlone() {
        #expect(StatQuery(resource: .job, name: nil, namespace: "ci", window: 60).requests.contains(#"k8s_job!="""#))
        let namespace = StatQuery(resource: .namespace, name: "shop", namespace: nil, window: 60)
        #expect(namespace.requests.contains(#"namespace="shop"}"#) && namespace.requests.hasSuffix("by (namespace, classification, tls)"))
        #expect(
            namespace.meshed == #"count(max(controller_pod_info{namespace="shop"}) by (namespace, pod, meshed)) by (namespace, meshed)"#)
    }

    @Test func labelValuesAreEscapedAndSelectorsAdded() {
        var query = StatQuery(resource: .pod, name: #"we"ird\"#, namespace: "ns", window: 60)
        query.selector = [("app", "web")]
        #expect(query.requests.contains(#"pod="we\"ird\\", app="web"}"#), "\(query.requests)")
    }

    static func sample(_ labels: [String: String], _ value: Double) -> PrometheusSample { .init(labels: labels, value: value) }

    @Test func rowsCountRequestsSuccessAndPodsAndLeaveAbsentFiguresOut() {
        var summary = StatSummary(query: StatQuery(resource: .deployment, name: nil, namespace: "emojivoto", window: 60))
        let web = ["namespace": "emojivoto", "deployment": "web"]
        summary.requests = [
            Self.sample(web.merging(["classification": "success", "tls": "true"]) { $1 }, 540),
            Self.sample(web.merging(["classification": "failure", "tls": "true"]) { $1 }, 60),
        ]
        summary.p50 = [Self.sample(web, 2.5)]
        summary.p99 = [Self.sample(web, .nan)]
        summary.openConnections = [Self.sample(web, 3)]
        summary.readBytes = [Self.sample(web, 6000)]
        summary.meshed = [
            Self.sample(web.merging(["meshed": "true"]) { $1 }, 2), Self.sample(web.merging(["meshed": "false"]) { $1 }, 1),
            Self.sample(["namespace": "emojivoto", "deployment": "vote-bot", "meshed": "true"], 1),
        ]
        let rows = summary.rows
        #expect(rows.map(\.name) == ["vote-bot", "web"])
        #expect(rows[0].meshed == "1/1" && rows[0].rps == nil && rows[0].success == nil && !rows[0].hasTraffic)
        #expect(rows[1].meshed == "2/3")
        #expect(rows[1].rps == 10 && rows[1].success == 0.9)
        #expect(rows[1].latencyMsP50 == 2.5 && rows[1].latencyMsP95 == nil && rows[1].latencyMsP99 == nil, "NaN is no figure")
        #expect(rows[1].tcpOpenConnections == 3 && rows[1].tcpReadBytesRate == 100 && rows[1].tcpWriteBytesRate == nil)
    }
}
