import MeshModel
import ProxyCore

/// The filters of a rule or a backend that change the request: header modifiers and rewrites, in order, and
/// RequestMirror, each taking its percentage of requests, a copy to its backend.
enum RequestFilters {
    /// The filters among `filters` that change requests; empty when none does (nothing to do per request).
    static func changingRequests(_ filters: [RouteFilter]) -> [RouteFilter] {
        filters.filter { filter in
            switch filter {
            case .requestHeaderModifier, .urlRewrite, .requestMirror: return true
            default: return false
            }
        }
    }

    /// The response header modifiers among `filters`.
    static func responseModifiers(_ filters: [RouteFilter]) -> [RouteFilter.HeaderModifier] {
        filters.compactMap { filter in
            if case .responseHeaderModifier(let modifier) = filter { return modifier }
            return nil
        }
    }

    static func apply(
        _ filters: [RouteFilter], matchedPrefix: String?, to exchange: Exchange, parent: ServicePolicy, backends: RouteBackends
    ) {
        var random = SystemRandomNumberGenerator()
        for filter in filters {
            switch filter {
            case .requestHeaderModifier(let modifier):
                modifier.apply(to: &exchange.request.fields)
            case .urlRewrite(let rewrite):
                rewrite.apply(to: &exchange.request, matchedPrefix: matchedPrefix)
            case .requestMirror(let backend, let percent) where backend.unresolved == nil:
                guard percent >= 100 || Double.random(in: 0..<100, using: &random) < percent else { continue }
                exchange.startMirror(through: backends.mirrorChain(backend, parent: parent))
            default:
                continue
            }
        }
    }
}
