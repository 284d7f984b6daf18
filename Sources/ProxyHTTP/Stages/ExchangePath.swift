import ProxyCore

/// The chains one exchange goes through, and how far it got: its destination's chain, then the chains its stages
/// branched to (a route's rule, the backend its split picked). At most three levels, kept inline: a request costs no
/// allocation for its path.
struct ExchangePath {
    private var levels: (StageChain?, StageChain?, StageChain?)
    /// The next stage to ask: its level and its place in that level's chain.
    private var level = 0
    private var index = 0
    /// Where the first chain starts for this exchange: 1 when its first stage sat the request out (`IdleStage`).
    private var start = 0

    init(_ chain: StageChain?) {
        self.levels = (chain, nil, nil)
        if let head = chain?.idleHead, head.isIdle {
            self.start = 1
            self.index = 1
        }
    }

    /// The stages of `level` this exchange goes through.
    private func stages(_ chain: StageChain, _ level: Int) -> ArraySlice<any HTTPStage> {
        level == 0 && self.start > 0 ? chain.stages[self.start...] : chain.stages[...]
    }

    private func chain(_ level: Int) -> StageChain? {
        switch level {
        case 0: self.levels.0
        case 1: self.levels.1
        case 2: self.levels.2
        default: nil
        }
    }

    /// The stage to ask about the request next, if any is left.
    var current: (any HTTPStage)? {
        mutating get {
            while let chain = self.chain(self.level) {
                if self.index < chain.stages.count { return chain.stages[self.index] }
                self.level += 1
                self.index = 0
            }
            return nil
        }
    }

    /// The current stage passed.
    mutating func advance() {
        self.index += 1
    }

    /// The current stage sent the request on through `chain`, after what is left of its own.
    mutating func branch(to chain: StageChain) {
        switch self.level {
        case 0: self.levels.1 = chain
        default: self.levels.2 = chain
        }
    }

    /// Where attempts go: the balancer of the deepest chain that has one.
    var balancer: Balancer? {
        self.levels.2?.balancer ?? self.levels.1?.balancer ?? self.levels.0?.balancer
    }

    /// The labels of the chains reached: the route's and the backend's (tap's `route_meta`).
    var labels: [MetricLabel] {
        // Most requests have labels from one level only: that array as it is, not a new one.
        let (route, backend) = (self.levels.1?.labels ?? [], self.levels.2?.labels ?? [])
        if backend.isEmpty { return route }
        if route.isEmpty { return backend }
        return route + backend
    }

    /// Some chain on the path may retry: the body is kept.
    var replaysRequests: Bool {
        (self.levels.0?.replaysRequests ?? false) || (self.levels.1?.replaysRequests ?? false) || (self.levels.2?.replaysRequests ?? false)
    }

    /// Some chain on the path times its attempts.
    var timesAttempts: Bool {
        (self.levels.0?.timesAttempts ?? false) || (self.levels.1?.timesAttempts ?? false) || (self.levels.2?.timesAttempts ?? false)
    }

    /// Every stage reached, in chain order.
    func forEach(_ body: (any HTTPStage) -> Void) {
        for level in 0..<3 {
            guard let chain = self.chain(level) else { return }
            for stage in self.stages(chain, level) { body(stage) }
        }
    }

    /// Every stage reached, in reverse order.
    func forEachReversed(_ body: (any HTTPStage) -> Void) {
        for level in stride(from: 2, through: 0, by: -1) {
            guard let chain = self.chain(level) else { continue }
            for stage in self.stages(chain, level).reversed() { body(stage) }
        }
    }

    /// Asks every stage reached, in reverse order, until one asks for a retry: its verdict, or `.pass`.
    func verdict(_ ask: (any HTTPStage) -> StageVerdict) -> StageVerdict {
        for level in stride(from: 2, through: 0, by: -1) {
            guard let chain = self.chain(level) else { continue }
            for stage in self.stages(chain, level).reversed() {
                let verdict = ask(stage)
                if verdict != .pass { return verdict }
            }
        }
        return .pass
    }
}
