import MeshModel
import Yams

/// The policy annotations a Service or route carries (`retry.swiftlet.io/*`, `timeout.swiftlet.io/*`,
/// `balancer.swiftlet.io/failure-accrual*`), read into the same values a route's own fields give.
extension ManifestParser {

    /// What the route's `retry.swiftlet.io/*` and `timeout.swiftlet.io/*` annotations say; a rule's own `retry`
    /// and `timeouts` win over them.
    static func annotationPolicy(_ annotations: [String: String], metadata: Node.Mapping, reader: FieldReader) throws -> (
        retry: RouteRetry?, timeouts: RouteTimeouts
    ) {
        let node = metadata["annotations"]
        func value<T>(_ name: String, _ parse: (String) throws(RouteError) -> T) throws -> T? {
            guard let text = annotations[name] else { return nil }
            do {
                return try parse(text)
            } catch {
                throw reader.error(.invalidField, node!, "annotation \(name): \(error.message)")
            }
        }
        let statuses = try value("retry.swiftlet.io/http") { (text) throws(RouteError) in try RouteRetry.parseStatuses(text) }
        let codes = try value("retry.swiftlet.io/grpc") { (text) throws(RouteError) in try RouteRetry.parseGRPCCodes(text) }
        let limit = try value("retry.swiftlet.io/limit") { (text) throws(RouteError) -> Int in
            guard let limit = Int(text), (0...100).contains(limit) else {
                throw RouteError(.invalidValue, "\"\(text)\" is not a number of retries (0-100)")
            }
            return limit
        }
        let tryTimeout = try value("retry.swiftlet.io/timeout") { (text) throws(RouteError) in
            try GatewayDuration.parse(text, allowFractions: true)
        }
        let timeouts = RouteTimeouts(
            request: try value("timeout.swiftlet.io/request") { (text) throws(RouteError) in
                try GatewayDuration.parse(text, allowFractions: true)
            },
            backendRequest: try value("timeout.swiftlet.io/response") { (text) throws(RouteError) in
                try GatewayDuration.parse(text, allowFractions: true)
            },
            idle: try value("timeout.swiftlet.io/idle") { (text) throws(RouteError) in try GatewayDuration.parse(text, allowFractions: true)
            }
        )
        var retry: RouteRetry? = nil
        if statuses != nil || codes != nil || limit != nil || tryTimeout != nil {
            retry = RouteRetry(statuses: statuses ?? [], grpcCodes: codes ?? [], limit: limit ?? 1, timeout: tryTimeout)
        }
        return (retry, timeouts)
    }

    /// `balancer.swiftlet.io/failure-accrual: consecutive` with `…-consecutive-max-failures`, `-min-penalty`,
    /// `-max-penalty` and `-jitter-ratio` (Linkerd's names, our prefix).
    static func failureAccrual(_ annotations: [String: String], metadata: Node.Mapping, reader: FieldReader) throws -> FailureAccrual? {
        let prefix = "balancer.swiftlet.io/failure-accrual"
        guard let mode = annotations[prefix] else { return nil }
        let node = metadata["annotations"]!
        guard mode == "consecutive" else {
            throw reader.error(.invalidField, node, "annotation \(prefix): \"\(mode)\" is not a mode (consecutive)")
        }
        var accrual = FailureAccrual()
        if let text = annotations[prefix + "-consecutive-max-failures"] {
            guard let value = Int(text), value >= 1 else {
                throw reader.error(
                    .invalidField, node, "annotation \(prefix)-consecutive-max-failures: \"\(text)\" is not a number (1 or more)")
            }
            accrual.maxFailures = value
        }
        for (suffix, path) in [
            ("-consecutive-min-penalty", \FailureAccrual.minPenalty), ("-consecutive-max-penalty", \FailureAccrual.maxPenalty),
        ] {
            guard let text = annotations[prefix + suffix] else { continue }
            do {
                accrual[keyPath: path] = try GatewayDuration.parse(text, allowFractions: true)
            } catch {
                throw reader.error(.invalidField, node, "annotation \(prefix)\(suffix): \(error.message)")
            }
        }
        if let text = annotations[prefix + "-consecutive-jitter-ratio"] {
            guard let value = Double(text), (0...100).contains(value) else {
                throw reader.error(.invalidField, node, "annotation \(prefix)-consecutive-jitter-ratio: \"\(text)\" is not a ratio")
            }
            accrual.jitterRatio = value
        }
        guard accrual.minPenalty <= accrual.maxPenalty else {
            throw reader.error(.invalidField, node, "annotation \(prefix): the minimum penalty is longer than the maximum")
        }
        return accrual
    }

    /// The Service's `retry.swiftlet.io/budget-percent`, `budget-interval` and `min-retry-rate` (`10/1s`): the same
    /// budget as an XBackendTrafficPolicy's `retryConstraint`, on any channel of the Gateway API. nil: none given.
    static func retryBudget(_ annotations: [String: String], metadata: Node.Mapping, reader: FieldReader) throws -> RetryBudget.Settings? {
        let percentKey = "retry.swiftlet.io/budget-percent", intervalKey = "retry.swiftlet.io/budget-interval",
            rateKey = "retry.swiftlet.io/min-retry-rate"
        guard annotations[percentKey] != nil || annotations[intervalKey] != nil || annotations[rateKey] != nil else { return nil }
        let node = metadata["annotations"] ?? metadata["name"]!
        var percent = BackendTrafficPolicySpec.defaultPercent
        if let text = annotations[percentKey] {
            guard let value = Double(text), (0...100).contains(value) else {
                throw reader.error(.invalidField, node, "annotation \(percentKey): \"\(text)\" is not a percentage (0-100)")
            }
            percent = value
        }
        var interval = BackendTrafficPolicySpec.defaultInterval
        if let text = annotations[intervalKey] {
            do {
                interval = try GatewayDuration.parse(text)
            } catch {
                throw reader.error(.invalidField, node, "annotation \(intervalKey): \(error.message)")
            }
            guard interval >= 1_000_000_000 else {
                throw reader.error(.invalidField, node, "annotation \(intervalKey): must be 1s or more")
            }
        }
        var count = BackendTrafficPolicySpec.defaultMinRetryCount
        var per = BackendTrafficPolicySpec.defaultMinRetryInterval
        if let text = annotations[rateKey] {
            let parts = text.split(separator: "/", maxSplits: 1)
            guard parts.count == 2, let value = Int(parts[0]), value >= 1, let duration = try? GatewayDuration.parse(String(parts[1])),
                duration >= 1_000_000_000
            else {
                throw reader.error(.invalidField, node, "annotation \(rateKey): \"\(text)\" is not a rate such as 10/1s")
            }
            count = value
            per = duration
        }
        return BackendTrafficPolicySpec.budget(percent: percent, interval: interval, minRetries: count, per: per)
    }
}
