/// One element of an instant query's vector: its labels and value.
public struct PrometheusSample: Sendable, Equatable {
    public var labels: [String: String]
    public var value: Double

    public init(labels: [String: String], value: Double) {
        self.labels = labels
        self.value = value
    }
}
