import NIOCore
import ProxyCore

/// The exchange's one timer: armed at the machine's next deadline, and what falls due when it fires.
extension Exchange {
    /// Arms the timer at the machine's next deadline if that is earlier than the one armed (a later deadline waits
    /// for the armed timer, which finds nothing due and arms again): moving a deadline costs no timer.
    func armTimer() {
        guard let deadline = self.machine.nextDeadline else { return }
        if let armed = self.timer {
            guard deadline < armed.deadline else { return }
            armed.task.cancel()
        }
        let bound = NIOLoopBound(self, eventLoop: self.eventLoop)
        let task = self.eventLoop.scheduleTask(deadline: deadline) {
            let exchange = bound.value
            exchange.timer = nil
            guard !exchange.isFinished else { return }
            exchange.timerFired()
        }
        self.timer = (task, deadline)
    }

    private func timerFired() {
        switch self.machine.timerFired(now: self.now) {
        case .none:
            break
        case .resumeStages:
            self.resumeStages()
        case .attempt, .retry:
            self.attemptNow()
        case .tryTimedOut(let error):
            // An attempt that timed out fails like any other: a retry policy may try again.
            self.upstreamFailed(error)
        case .exchangeTimedOut(let error):
            self.timedOut(error)
        }
        if !self.isFinished { self.armTimer() }
    }

    /// A bound on the whole exchange ran out: the attempt ends, and the client gets the error or a cut response.
    func timedOut(_ error: ProxyError) {
        switch self.machine.timedOut(error) {
        case .respond(let error):
            self.settleAttempt(RouteOutcome(status: nil, grpcStatus: nil, error: error.code.label))
            self.endpoints.abandon(&self.attempt)
            self.upstream?.release(reusable: false)
            self.upstream = nil
            self.answer(with: error)
        case .abortDownstream:
            self.upstream?.release(reusable: false)
            self.upstream = nil
            self.downstream?.abortResponse()
            self.finish()
        case .retry, .none:
            break
        }
    }
}
