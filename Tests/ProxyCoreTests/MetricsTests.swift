import ProxyCore
import Testing

@Suite struct MetricsTests {
    func render(_ shards: MetricsShard...) -> String {
        var snapshot = MetricsSnapshot()
        for shard in shards { snapshot.merge(shard.snapshot()) }
        var text = ""
        snapshot.render(into: &text)
        return text
    }

    let labels = RequestLabels(direction: .outbound, authority: "web:8080", targetAddress: "10.0.0.1:8080", tls: .notProvidedByDiscovery)

    @Test func countsRequestsAndResponsesWithLinkerdsLabels() {
        let shard = MetricsShard()
        let series = shard.requestMetrics(for: self.labels)
        series.recordRequest()
        series.recordRequest()
        series.recordResponse(status: 200, grpcStatus: nil, latencyNanoseconds: 3_500_000)
        series.recordResponse(status: 503, grpcStatus: nil, latencyNanoseconds: 40_000_000)
        let text = self.render(shard)
        let prefix =
            "direction=\"outbound\",authority=\"web:8080\",target_addr=\"10.0.0.1:8080\",tls=\"no_identity\","
            + "no_tls_reason=\"not_provided_by_service_discovery\""
        #expect(text.contains("request_total{\(prefix)} 2\n"))
        #expect(text.contains("response_total{\(prefix),status_code=\"200\",classification=\"success\"} 1\n"))
        #expect(text.contains("response_total{\(prefix),status_code=\"503\",classification=\"failure\"} 1\n"))
        #expect(text.contains("response_latency_ms_bucket{\(prefix),status_code=\"200\",le=\"3\"} 0\n"))
        #expect(text.contains("response_latency_ms_bucket{\(prefix),status_code=\"200\",le=\"4\"} 1\n"))
        #expect(text.contains("response_latency_ms_bucket{\(prefix),status_code=\"503\",le=\"40\"} 1\n"))
        #expect(text.contains("response_latency_ms_bucket{\(prefix),status_code=\"503\",le=\"+Inf\"} 1\n"))
        #expect(text.contains("response_latency_ms_count{\(prefix),status_code=\"503\"} 1\n"))
    }

    @Test func anInboundPortsDefaultServerAndRouteCarryLinkerdsLabelsInEachFamily() {
        let shard = MetricsShard()
        let http = shard.inboundRouteSeries(for: InboundRouteLabels(family: .http, port: 8080))
        http.record(RouteOutcome(status: 200, grpcStatus: nil, error: nil), seconds: 0.012)
        http.record(RouteOutcome(status: nil, grpcStatus: nil, error: "cancelled"), seconds: 0.5)
        shard.inboundRouteSeries(for: InboundRouteLabels(family: .grpc, port: 9090))
            .record(RouteOutcome(status: 200, grpcStatus: 14, error: nil), seconds: 0.001)
        let text = self.render(shard)
        let server = "srv_group=\"\",srv_kind=\"default\",srv_name=\"all-unauthenticated\""
        let route = "route_group=\"\",route_kind=\"default\",route_namespace=\"\",route_name=\"default\""
        #expect(
            text.contains(
                "inbound_http_route_request_statuses_total{\(server),srv_port=\"8080\",\(route),http_status=\"200\",error=\"\"} 1\n"))
        #expect(
            text.contains(
                "inbound_http_route_request_statuses_total{\(server),srv_port=\"8080\",\(route),http_status=\"\",error=\"cancelled\"} 1\n"))
        #expect(text.contains("inbound_http_route_request_duration_seconds_count{\(server),srv_port=\"8080\",\(route)} 2\n"))
        #expect(
            text.contains(
                "inbound_grpc_route_request_statuses_total{\(server),srv_port=\"9090\",\(route),grpc_status=\"14\",error=\"\"} 1\n"))
        #expect(text.contains("# TYPE inbound_grpc_route_request_duration_seconds histogram\n"))
    }

    @Test func aNonZeroGRPCStatusIsAFailureEvenWithHTTP200() {
        let shard = MetricsShard()
        let series = shard.requestMetrics(for: self.labels)
        series.recordResponse(status: 200, grpcStatus: 14, latencyNanoseconds: 1)
        series.recordResponse(status: 200, grpcStatus: 0, latencyNanoseconds: 1)
        let text = self.render(shard)
        #expect(text.contains("status_code=\"200\",classification=\"failure\",grpc_status=\"14\"} 1"))
        #expect(text.contains("status_code=\"200\",classification=\"success\",grpc_status=\"0\"} 1"))
    }

    @Test func shardsOfDifferentLoopsAreSummed() {
        let first = MetricsShard()
        let second = MetricsShard()
        first.requestMetrics(for: self.labels).recordRequest()
        second.requestMetrics(for: self.labels).recordRequest()
        let tcp = TCPLabels(direction: .inbound, peer: .src, targetAddress: "", tls: .noTLSFromRemote)
        first.tcpMetrics(for: tcp).recordOpen()
        second.tcpMetrics(for: tcp).recordOpen()
        second.tcpMetrics(for: tcp).recordClose()
        second.tcpMetrics(for: tcp).recordRead(10)
        let text = self.render(first, second)
        #expect(text.contains("request_total{direction=\"outbound\",authority=\"web:8080\"") && text.contains("} 2\n"))
        #expect(
            text.contains(
                "tcp_open_total{direction=\"inbound\",peer=\"src\",target_addr=\"\",tls=\"no_identity\","
                    + "no_tls_reason=\"no_tls_from_remote\"} 2"
            ))
        #expect(
            text.contains(
                "tcp_open_connections{direction=\"inbound\",peer=\"src\",target_addr=\"\",tls=\"no_identity\","
                    + "no_tls_reason=\"no_tls_from_remote\"} 1"
            ))
        #expect(
            text.contains(
                "tcp_read_bytes_total{direction=\"inbound\",peer=\"src\",target_addr=\"\",tls=\"no_identity\","
                    + "no_tls_reason=\"no_tls_from_remote\"} 10"
            ))
    }

    @Test func labelValuesFromClientsAreEscaped() {
        let shard = MetricsShard()
        let labels = RequestLabels(direction: .inbound, authority: "evil\"\n\\", targetAddress: "x", tls: .noTLSFromRemote)
        shard.requestMetrics(for: labels).recordRequest()
        #expect(self.render(shard).contains("authority=\"evil\\\"\\n\\\\\""))
    }

    @Test func errorsAreCountedByDirectionAndCode() {
        let shard = MetricsShard()
        shard.recordHTTPError(.outbound, .noRoute)
        shard.recordTCPError(.inbound, .loopDetected)
        let text = self.render(shard)
        #expect(text.contains("outbound_http_errors_total{error=\"no_route\"} 1"))
        #expect(text.contains("inbound_tcp_errors_total{error=\"loop_detected\"} 1"))
    }
}
