import MeshModel
import NIOCore
import ProxyCore

/// FaultInjection (DESIGN §3, our CRD): a rule's fault aborts its share of requests with a status (a gRPC status
/// for a gRPC call) or delays its share before they go on.
final class FaultStage: HTTPStage {
    var answerKind: String { "fault" }
    let faults: [RouteFault]
    /// Set while a request waits out its injected delay: asked again, it goes on once the delay is over.
    let slot = StageSlot<Delay>()
    private var random = SystemRandomNumberGenerator()

    final class Delay {
        let until: NIODeadline
        init(until: NIODeadline) { self.until = until }
    }

    init(faults: [RouteFault]) {
        self.faults = faults
    }

    func request(_ exchange: Exchange) -> StageDecision {
        if let delay = exchange.slots[self.slot] {
            return exchange.now < delay.until ? .suspend(until: delay.until) : .proceed
        }
        for fault in self.faults {
            switch fault.draw(using: &self.random) {
            case .abort(let status, let grpcStatus):
                let response: LocalResponse =
                    exchange.isGRPC
                    ? .grpc(status: grpcStatus ?? LocalResponse.grpcStatus(forHTTP: status), message: "fault injected")
                    : .text(status: status, "fault injected")
                return .respond(response.head, body: response.body)
            case .delay(let nanoseconds):
                let until = exchange.now + .nanoseconds(nanoseconds)
                exchange.slots[self.slot] = Delay(until: until)
                return .suspend(until: until)
            case .none:
                continue
            }
        }
        return .proceed
    }
}

@available(*, unavailable)
extension FaultStage: Sendable {}
