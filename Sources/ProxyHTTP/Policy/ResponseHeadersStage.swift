import MeshModel
import ProxyCore

/// ResponseHeaderModifier filters of a rule or a backend: applied to the response head before it goes downstream.
final class ResponseHeadersStage: HTTPStage {
    let modifiers: [RouteFilter.HeaderModifier]

    init(modifiers: [RouteFilter.HeaderModifier]) {
        self.modifiers = modifiers
    }

    func response(_ head: inout HTTPResponseHead, _ exchange: Exchange) -> StageVerdict {
        for modifier in self.modifiers { modifier.apply(to: &head.fields) }
        return .pass
    }
}

@available(*, unavailable)
extension ResponseHeadersStage: Sendable {}
