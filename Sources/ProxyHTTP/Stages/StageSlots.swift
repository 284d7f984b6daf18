/// The per-exchange state of the stages an exchange passes, by their `StageSlot`s. Two values are kept inline —
/// most exchanges keep none, few more than one — and the rest in an array, so an exchange allocates nothing for
/// slots it does not use.
///
/// The subscript is inlinable: called from the stages' own modules, it is specialized for each stage's `Value`
/// there. Across modules unspecialized, every call looked up `Optional<Value>`'s metadata in the runtime's cache
/// (a few hundred instructions per tapped request).
public struct StageSlots {
    @usableFromInline var first: (key: ObjectIdentifier, value: AnyObject)?
    @usableFromInline var second: (key: ObjectIdentifier, value: AnyObject)?
    @usableFromInline var more: [(key: ObjectIdentifier, value: AnyObject)] = []

    init() {}

    @inlinable
    public subscript<Value>(slot: StageSlot<Value>) -> Value? {
        get {
            let key = ObjectIdentifier(slot)
            // Only the typed subscript stores under `key`: what is there is a `Value`.
            if let first = self.first, first.key == key { return unsafeDowncast(first.value, to: Value.self) }
            if let second = self.second, second.key == key { return unsafeDowncast(second.value, to: Value.self) }
            // Asked on every hook of every stage that keeps state, mostly of exchanges that keep none: no iterator
            // (and no retain of the array) for the usual empty overflow.
            if self.more.isEmpty { return nil }
            for entry in self.more where entry.key == key { return unsafeDowncast(entry.value, to: Value.self) }
            return nil
        }
        set {
            let key = ObjectIdentifier(slot)
            if self.first?.key == key {
                if let newValue { self.first = (key, newValue) } else { self.first = nil }
            } else if self.second?.key == key {
                if let newValue { self.second = (key, newValue) } else { self.second = nil }
            } else if let index = self.more.firstIndex(where: { $0.key == key }) {
                if let newValue { self.more[index].value = newValue } else { self.more.remove(at: index) }
            } else if let newValue {
                if self.first == nil {
                    self.first = (key, newValue)
                } else if self.second == nil {
                    self.second = (key, newValue)
                } else {
                    self.more.append((key, newValue))
                }
            }
        }
    }
}
