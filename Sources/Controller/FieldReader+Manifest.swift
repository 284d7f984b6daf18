import MeshModel
import Yams

extension FieldReader {
    /// A string field as written, empty included (`group: ""` is the core API group, not a missing group).
    func presentString(_ mapping: Node.Mapping, _ key: String) throws -> String? {
        guard let node = mapping[key] else { return nil }
        guard case .scalar(let scalar) = node else { throw self.error(.invalidField, node, "`\(key)` must be a string") }
        return scalar.string
    }

    func optionalSequence(_ mapping: Node.Mapping, _ key: String) throws -> [Node] {
        guard let node = mapping[key] else { return [] }
        if case .scalar(let scalar) = node, scalar.string.isEmpty || scalar.string == "null" { return [] }
        guard let value = node.sequence else { throw self.error(.invalidField, node, "`\(key)` must be a list") }
        return Array(value)
    }

    func optionalDuration(_ mapping: Node.Mapping, _ key: String) throws -> Int64? {
        guard let node = mapping[key] else { return nil }
        guard let text = node.string else { throw self.error(.invalidField, node, "`\(key)` must be a duration such as 10s") }
        return try self.checked(node) { () throws(RouteError) in try GatewayDuration.parse(text) }
    }

    func percent(_ mapping: Node.Mapping, _ key: String, in parent: Node) throws -> Double {
        guard let node = mapping[key] else { throw self.error(.missingField, parent, "missing `\(key)`") }
        guard let value = node.float ?? node.int.map(Double.init), value >= 0, value <= 100 else {
            throw self.error(.invalidField, node, "`\(key)` must be a percentage from 0 to 100")
        }
        return value
    }

    /// Runs a validation from ProxyCore and reports its failure at `node`'s line.
    func checked<T>(_ node: Node, _ body: () throws(RouteError) -> T) throws -> T {
        do {
            return try body()
        } catch {
            throw self.error(.invalidField, node, error.message)
        }
    }
}
