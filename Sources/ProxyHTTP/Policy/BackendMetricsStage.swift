import ProxyCore

/// A backend's series (Linkerd's `outbound_*_route_backend_*` families): every attempt the split sent to the
/// backend, its outcome and duration.
final class BackendMetricsStage: HTTPStage {
    let series: RouteSeries

    init(series: RouteSeries) {
        self.series = series
    }

    var timesAttempts: Bool { true }

    func attemptStarted(_ endpoint: ChosenEndpoint, _ exchange: Exchange) {
        self.series.recordRequest()
    }

    func attemptEnded(_ outcome: RouteOutcome, nanoseconds: Int64, _ exchange: Exchange) {
        self.series.record(outcome, seconds: Double(nanoseconds) / 1e9)
    }
}

@available(*, unavailable)
extension BackendMetricsStage: Sendable {}
