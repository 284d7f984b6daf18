import Foundation

/// Any JSON, decoded as it is: for kinds whose fields are read by a parser of their own (routes, Services'
/// annotations) rather than by a struct.
public enum JSONValue: Codable, Hashable, Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value):
            if value == value.rounded(), abs(value) < 1e15 { try container.encode(Int64(value)) } else { try container.encode(value) }
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    public subscript(key: String) -> JSONValue? {
        if case .object(let object) = self { return object[key] }
        return nil
    }

    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }
}

/// An object of any kind: its metadata for the watch's bookkeeping, and the whole of it as JSON.
public struct GenericObject: KubernetesObject, Hashable {
    public var metadata: ObjectMeta
    public var json: JSONValue

    public init(from decoder: any Decoder) throws {
        self.json = try JSONValue(from: decoder)
        struct Envelope: Decodable { var metadata: ObjectMeta? }
        self.metadata = try Envelope(from: decoder).metadata ?? ObjectMeta()
    }

    public mutating func inheritType(kind: String, apiVersion: String) {
        guard case .object(var fields) = self.json else { return }
        if fields["kind"] == nil { fields["kind"] = .string(kind) }
        if fields["apiVersion"] == nil { fields["apiVersion"] = .string(apiVersion) }
        self.json = .object(fields)
    }
}

extension GenericObject {
    /// A Secret's `data[key]`, base64-decoded to text; nil when the key is missing or not base64.
    public func secretText(_ key: String) -> String? {
        guard let text = self.json["data"]?[key]?.stringValue, let data = Data(base64Encoded: text) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }
}
