/// A balancer's endpoints by state, for the `outbound_http_balancer_endpoints` gauge.
public protocol BalancerGaugeSource: AnyObject {
    var endpointStates: (ready: Int, ejected: Int) { get }
}

extension MetricsSnapshot {
    /// One route series (or route-and-backend series) merged over the loops.
    struct RouteValues: Sendable {
        var family: RouteLabels.Family
        var requests: UInt64 = 0
        var buckets = [UInt64](repeating: 0, count: RouteLatencyBuckets.bounds.count + 1)
        var sumSeconds: Double = 0
        var outcomes: [RouteOutcome: UInt64] = [:]
        var retryRequests: UInt64 = 0
        var retrySuccesses: UInt64 = 0
        var retryLimitExceeded: UInt64 = 0
        var retryOverflow: UInt64 = 0
        var retryUnreplayable: UInt64 = 0

        init(family: RouteLabels.Family) {
            self.family = family
        }

        mutating func add(_ series: RouteSeries) {
            var values = RouteValues(family: series.family)
            values.requests = series.requests
            values.buckets = series.buckets
            values.sumSeconds = series.sumSeconds
            for (outcome, count) in series.outcomes { values.outcomes[outcome, default: 0] &+= count }
            (values.retryRequests, values.retrySuccesses) = (series.retryRequests, series.retrySuccesses)
            (values.retryLimitExceeded, values.retryOverflow, values.retryUnreplayable) = (
                series.retryLimitExceeded, series.retryOverflow, series.retryUnreplayable
            )
            self.merge(values)
        }

        mutating func merge(_ other: RouteValues) {
            self.requests &+= other.requests
            for index in other.buckets.indices { self.buckets[index] &+= other.buckets[index] }
            self.sumSeconds += other.sumSeconds
            for (outcome, count) in other.outcomes { self.outcomes[outcome, default: 0] &+= count }
            self.retryRequests &+= other.retryRequests
            self.retrySuccesses &+= other.retrySuccesses
            self.retryLimitExceeded &+= other.retryLimitExceeded
            self.retryOverflow &+= other.retryOverflow
            self.retryUnreplayable &+= other.retryUnreplayable
        }
    }

    /// Linkerd 2.16's `outbound_{http,grpc}_route_*` families, 2.17's `inbound_{http,grpc}_route_*` ones, and the
    /// balancers' endpoints.
    func renderRoutes(into out: inout String) {
        for family in [RouteLabels.Family.http, .grpc] {
            let prefix = "outbound_\(family.rawValue)_route"
            let routes = self.routes.filter { $0.value.family == family }
            let routeLabels = Self.requestFamilies(&out, prefix, routes, family)
            let retries: [(String, String, KeyPath<RouteValues, UInt64>)] = [
                ("requests", "Retry requests emitted.", \.retryRequests),
                ("successes", "Successful responses to retry requests.", \.retrySuccesses),
                ("limit_exceeded", "Requests not retried because the retry limit was reached.", \.retryLimitExceeded),
                ("overflow", "Requests not retried because the retry budget was spent.", \.retryOverflow),
                ("unreplayable", "Requests not retried because their body was too large to keep for a replay.", \.retryUnreplayable),
            ]
            for (name, help, value) in retries {
                let metric = "\(prefix)_retry_\(name)_total"
                out += "# HELP \(metric) \(help)\n# TYPE \(metric) counter\n"
                for labels in routeLabels { out += "\(metric){\(labels)} \(routes[labels]![keyPath: value])\n" }
            }

            let backends = self.backends.filter { $0.value.family == family }
            let backendLabels = backends.keys.sorted()
            out += "# HELP \(prefix)_backend_requests_total The total number of requests dispatched to a backend.\n"
            out += "# TYPE \(prefix)_backend_requests_total counter\n"
            for labels in backendLabels { out += "\(prefix)_backend_requests_total{\(labels)} \(backends[labels]!.requests)\n" }
            Self.histogram(
                &out, "\(prefix)_backend_response_duration_seconds", "The time between a backend request and its response completion.",
                backendLabels, backends
            )
            out += "# HELP \(prefix)_backend_response_statuses_total Completed responses from a backend.\n"
            out += "# TYPE \(prefix)_backend_response_statuses_total counter\n"
            for labels in backendLabels {
                Self.outcomes(&out, "\(prefix)_backend_response_statuses_total", labels, backends[labels]!, family)
            }
        }
        for family in [RouteLabels.Family.http, .grpc] {
            _ = Self.requestFamilies(
                &out, "inbound_\(family.rawValue)_route", self.inboundRoutes.filter { $0.value.family == family }, family)
        }
        out += "# HELP outbound_http_balancer_endpoints The number of a backend balancer's endpoints, by state.\n"
        out += "# TYPE outbound_http_balancer_endpoints gauge\n"
        for labels in self.balancers.keys.sorted() {
            let states = self.balancers[labels]!
            out += "outbound_http_balancer_endpoints{\(labels),endpoint_state=\"ready\"} \(states.ready)\n"
            out += "outbound_http_balancer_endpoints{\(labels),endpoint_state=\"ejected\"} \(states.ejected)\n"
        }
    }

    /// A route family's `PREFIX_request_duration_seconds` and `PREFIX_request_statuses_total`; the labels, sorted.
    private static func requestFamilies(
        _ out: inout String, _ prefix: String, _ routes: [String: RouteValues], _ family: RouteLabels.Family
    ) -> [String] {
        let labels = routes.keys.sorted()
        Self.histogram(
            &out, "\(prefix)_request_duration_seconds", "The time between request initialization and response completion.", labels, routes)
        out +=
            "# HELP \(prefix)_request_statuses_total Completed request-response streams.\n# TYPE \(prefix)_request_statuses_total "
            + "counter\n"
        for label in labels { Self.outcomes(&out, "\(prefix)_request_statuses_total", label, routes[label]!, family) }
        return labels
    }

    private static func histogram(_ out: inout String, _ name: String, _ help: String, _ labels: [String], _ values: [String: RouteValues])
    {
        out += "# HELP \(name) \(help)\n# TYPE \(name) histogram\n"
        for label in labels {
            let value = values[label]!
            var cumulative: UInt64 = 0
            for (index, bound) in RouteLatencyBuckets.labels.enumerated() {
                cumulative &+= value.buckets[index]
                out += "\(name)_bucket{\(label),le=\"\(bound)\"} \(cumulative)\n"
            }
            cumulative &+= value.buckets[RouteLatencyBuckets.bounds.count]
            out += "\(name)_bucket{\(label),le=\"+Inf\"} \(cumulative)\n"
            out += "\(name)_sum{\(label)} \(formatDouble(value.sumSeconds))\n"
            out += "\(name)_count{\(label)} \(cumulative)\n"
        }
    }

    private static func outcomes(_ out: inout String, _ name: String, _ labels: String, _ values: RouteValues, _ family: RouteLabels.Family)
    {
        let sorted = values.outcomes.sorted {
            ($0.key.status ?? -1, $0.key.grpcStatus ?? -1, $0.key.error ?? "") < (
                $1.key.status ?? -1, $1.key.grpcStatus ?? -1, $1.key.error ?? ""
            )
        }
        for (outcome, count) in sorted { out += "\(name){\(labels),\(outcome.rendered(family))} \(count)\n" }
    }
}
