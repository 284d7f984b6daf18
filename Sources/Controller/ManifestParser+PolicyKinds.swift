import MeshModel
import Yams

/// Our `FaultInjection` and the Gateway API's `XBackendTrafficPolicy`: the policy kinds a route or Service refers to.
extension ManifestParser {
    static func faultInjection(_ root: Node.Mapping, _ document: Node, _ reader: FieldReader) throws -> FaultInjectionSpec {
        let (key, _, _) = try Self.metadata(root, document, reader)
        let spec = try reader.mapping(root, "spec", in: document)
        var fault = RouteFault()
        if let abortNode = spec["abort"] {
            guard let abort = abortNode.mapping else { throw reader.error(.invalidField, abortNode, "`abort` must be a mapping") }
            fault.abortPercent = try reader.percent(abort, "percent", in: abortNode)
            if let statusNode = abort["httpStatus"] {
                guard let status = statusNode.int, (200...599).contains(status) else {
                    throw reader.error(.invalidField, statusNode, "`httpStatus` must be 200 to 599")
                }
                fault.abortStatus = status
            }
            if let grpcNode = abort["grpcStatus"] {
                guard let code = grpcNode.int, (1...16).contains(code) else {
                    throw reader.error(.invalidField, grpcNode, "`grpcStatus` must be a gRPC status code (1 to 16)")
                }
                fault.abortGRPCStatus = code
            }
        }
        if let delayNode = spec["delay"] {
            guard let delay = delayNode.mapping else { throw reader.error(.invalidField, delayNode, "`delay` must be a mapping") }
            fault.delayPercent = try reader.percent(delay, "percent", in: delayNode)
            guard let duration = try reader.optionalDuration(delay, "duration") else {
                throw reader.error(.missingField, delayNode, "a delay needs `duration`")
            }
            fault.delay = duration
        }
        return FaultInjectionSpec(key: key, fault: fault)
    }

    /// `XBackendTrafficPolicy`: the Services it targets (others kinds are not ours to use) and its retry budget, with
    /// GEP-3388's defaults for what is left out (the API server's CRD fills them in; a local file may not).
    static func backendTrafficPolicy(_ root: Node.Mapping, _ document: Node, _ reader: FieldReader) throws -> BackendTrafficPolicySpec {
        let (key, _, _) = try Self.metadata(root, document, reader)
        let spec = try reader.mapping(root, "spec", in: document)
        var services: [String] = []
        for node in try reader.sequence(spec, "targetRefs", in: root["spec"]!) {
            guard let ref = node.mapping else { throw reader.error(.invalidField, node, "a targetRef must be a mapping") }
            let group = try reader.optionalString(ref, "group") ?? ""
            let kind = try reader.string(ref, "kind", in: node)
            if (group == "" || group == "core") && kind == "Service" { services.append(try reader.string(ref, "name", in: node)) }
        }
        guard let constraintNode = spec["retryConstraint"] else {
            return BackendTrafficPolicySpec(key: key, services: services, budget: nil)
        }
        guard let constraint = constraintNode.mapping else {
            throw reader.error(.invalidField, constraintNode, "`retryConstraint` must be a mapping")
        }
        var percent = BackendTrafficPolicySpec.defaultPercent
        var interval = BackendTrafficPolicySpec.defaultInterval
        if let budgetNode = constraint["budget"] {
            guard let budget = budgetNode.mapping else { throw reader.error(.invalidField, budgetNode, "`budget` must be a mapping") }
            if budget["percent"] != nil { percent = try reader.percent(budget, "percent", in: budgetNode) }
            if let value = try reader.optionalDuration(budget, "interval") {
                guard value >= 1_000_000_000, value <= 3_600_000_000_000 else {
                    throw reader.error(.invalidField, budget["interval"]!, "`interval` must be from 1s to 1h")
                }
                interval = value
            }
        }
        var count = BackendTrafficPolicySpec.defaultMinRetryCount
        var per = BackendTrafficPolicySpec.defaultMinRetryInterval
        if let rateNode = constraint["minRetryRate"] {
            guard let rate = rateNode.mapping else { throw reader.error(.invalidField, rateNode, "`minRetryRate` must be a mapping") }
            if let countNode = rate["count"] {
                guard let value = countNode.int, value >= 1, value <= 1_000_000 else {
                    throw reader.error(.invalidField, countNode, "`count` must be from 1 to 1000000")
                }
                count = value
            }
            if let value = try reader.optionalDuration(rate, "interval") {
                guard value >= 1_000_000_000, value <= 3_600_000_000_000 else {
                    throw reader.error(.invalidField, rate["interval"]!, "`interval` must be from 1s to 1h")
                }
                per = value
            }
        }
        return BackendTrafficPolicySpec(
            key: key, services: services,
            budget: BackendTrafficPolicySpec.budget(percent: percent, interval: interval, minRetries: count, per: per))
    }
}
