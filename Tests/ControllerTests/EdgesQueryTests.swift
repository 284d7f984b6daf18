import Testing

@testable import Controller

/// `viz edges`: its queries, and edges made of their answers.
@Suite struct EdgesQueryTests {
    static func sample(_ labels: [String: String], _ value: Double = 5) -> PrometheusSample { .init(labels: labels, value: value) }

    @Test func anEdgeIsAnyTrafficOverTheWindowFromOrToTheNamespace() {
        let query = EdgesQuery(resource: .deployment, namespace: "emojivoto", window: 60)
        #expect(
            query.outbound(side: "namespace")
                == #"sum(increase(response_total{direction="outbound", deployment!="", dst_deployment!="", "#
                + #"namespace="emojivoto"}[60s])) by (namespace, deployment, dst_namespace, dst_deployment, tls, "#
                + #"server_id, no_tls_reason) > 0"#
        )
        #expect(query.outbound(side: "dst_namespace").contains(#"dst_namespace="emojivoto"}"#))
        #expect(query.clients.contains(#"direction="inbound", tls="true", deployment!="""#) && query.clients.hasSuffix("client_id) > 0"))
    }

    @Test func edgesAreSecuredOnlyWhenEveryRequestWasAndNameTheClientByItsServiceAccount() {
        var summary = EdgesSummary(query: EdgesQuery(resource: .deployment, namespace: "emojivoto", window: 60))
        let edge = ["namespace": "emojivoto", "deployment": "web", "dst_namespace": "emojivoto"]
        summary.outbound = [
            Self.sample(
                edge.merging([
                    "dst_deployment": "voting", "tls": "true",
                    "server_id": "voting.emojivoto.serviceaccount.identity.swiftlet.cluster.local",
                ]) { $1 }),
            // The same edge seen from both sides' queries: one row.
            Self.sample(
                edge.merging([
                    "dst_deployment": "voting", "tls": "true",
                    "server_id": "voting.emojivoto.serviceaccount.identity.swiftlet.cluster.local",
                ]) { $1 }),
            Self.sample(
                edge.merging([
                    "dst_deployment": "emoji", "tls": "true", "server_id": "emoji.emojivoto.serviceaccount.identity.swiftlet.cluster.local",
                ]) { $1 }),
            Self.sample(
                edge.merging(["dst_deployment": "emoji", "tls": "no_identity", "no_tls_reason": "not_provided_by_service_discovery"]) { $1 }
            ),
        ]
        summary.serviceAccounts = [Self.sample(["namespace": "emojivoto", "deployment": "web", "serviceaccount": "web"], 1)]
        summary.clients = [
            Self.sample([
                "namespace": "emojivoto", "deployment": "voting",
                "client_id": "bot.emojivoto.serviceaccount.identity.swiftlet.cluster.local",
            ]),
            Self.sample([
                "namespace": "emojivoto", "deployment": "voting",
                "client_id": "web.emojivoto.serviceaccount.identity.swiftlet.cluster.local",
            ]),
        ]
        let rows = summary.rows
        #expect(rows.map(\.destination) == ["emoji", "voting"])
        #expect(!rows[0].secured && rows[0].message == "not_provided_by_service_discovery", "one plaintext series: not secured")
        #expect(rows[1].secured && rows[1].serverID.hasPrefix("voting.emojivoto."))
        #expect(rows[1].clientID == "web.emojivoto.serviceaccount.identity.swiftlet.cluster.local", "web's, not bot's")
    }
}
