import NIOCore

extension EventLoopFuture {
    /// Runs `body` on this future's loop with its result, for callers already on that loop whose closure
    /// captures loop-bound state (handlers, contexts) that cannot be `Sendable`.
    public func whenCompleteOnLoop(_ body: @escaping (Result<Value, Error>) -> Void) {
        let bound = NIOLoopBound(body, eventLoop: self.eventLoop)
        self.whenComplete { bound.value($0) }
    }
}
