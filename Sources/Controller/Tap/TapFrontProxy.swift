import Foundation
import NIOHTTP1

/// How the tap API recognises the Kubernetes API server in front of it and learns who the caller is: the API
/// server publishes this in kube-system/extension-apiserver-authentication (its `--requestheader-*` flags), and every
/// aggregated API server reads it (Linkerd's tap, metrics-server). The API server connects with a client certificate
/// signed by `clientCAPEM` whose common name is one of `allowedNames`, and names the user it authenticated in the
/// headers listed here. Any other client is refused before a header is read: headers alone prove nothing.
public struct TapFrontProxy: Sendable, Equatable {
    public var clientCAPEM: String
    /// Empty: any certificate the CA signed.
    public var allowedNames: [String]
    public var usernameHeaders: [String]
    public var groupHeaders: [String]
    public var extraHeaderPrefixes: [String]

    public static let configMapNamespace = "kube-system"
    public static let configMapName = "extension-apiserver-authentication"

    /// The ConfigMap's `data`; its lists are JSON arrays of strings, as the API server writes them.
    public init(configMapData data: [String: String]) throws(TapError) {
        guard let ca = data["requestheader-client-ca-file"], ca.contains("BEGIN CERTIFICATE") else {
            throw TapError(
                .unauthenticated,
                "\(Self.configMapNamespace)/\(Self.configMapName) has no requestheader-client-ca-file: the API server runs without "
                    + "an aggregation layer (kube-apiserver --requestheader-client-ca-file), so it cannot forward taps")
        }
        self.clientCAPEM = ca
        self.allowedNames = try Self.list(data, "requestheader-allowed-names")
        self.usernameHeaders = try Self.list(data, "requestheader-username-headers")
        self.groupHeaders = try Self.list(data, "requestheader-group-headers")
        self.extraHeaderPrefixes = try Self.list(data, "requestheader-extra-headers-prefix")
        guard !self.usernameHeaders.isEmpty else {
            throw TapError(.unauthenticated, "\(Self.configMapName) names no requestheader-username-headers")
        }
    }

    /// `["a","b"]` → [a, b]; a missing key is an empty list.
    static func list(_ data: [String: String], _ key: String) throws(TapError) -> [String] {
        guard let text = data[key], !text.allSatisfy(\.isWhitespace) else { return [] }
        guard let items = try? JSONDecoder().decode([String].self, from: Data(text.utf8)) else {
            throw TapError(.unauthenticated, "\(Self.configMapName): \(key) is not a JSON list of names: \(text)")
        }
        return items
    }

    /// The user the API server forwards: its name (required), groups and extra, from the headers; only once the
    /// connection's certificate (`commonName`) was checked to be the front proxy's.
    public func user(commonName: String?, headers: HTTPHeaders) throws(TapError) -> TapUser {
        if !self.allowedNames.isEmpty {
            guard let commonName, self.allowedNames.contains(commonName) else {
                throw TapError(
                    .unauthenticated,
                    "the client certificate (CN \(commonName ?? "none")) is not the API server's front proxy "
                        + "(\(self.allowedNames.joined(separator: ", ")))"
                )
            }
        }
        guard let name = self.usernameHeaders.lazy.compactMap({ headers.first(name: $0) }).first(where: { !$0.isEmpty }) else {
            throw TapError(.unauthenticated, "the API server named no user (\(self.usernameHeaders.joined(separator: ", ")))")
        }
        let groups = self.groupHeaders.flatMap { headers[$0] }
        var extra: [String: [String]] = [:]
        for (header, value) in headers {
            let lowered = header.lowercased()
            for prefix in self.extraHeaderPrefixes where lowered.hasPrefix(prefix.lowercased()) && lowered.count > prefix.count {
                extra[Self.percentDecoded(String(lowered.dropFirst(prefix.count))), default: []].append(value)
            }
        }
        return TapUser(name: name, groups: groups, extra: extra)
    }

    /// Extra keys are percent-encoded in header names (`authentication.kubernetes.io%2fcredential-id`).
    static func percentDecoded(_ text: String) -> String {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%"), let high = iterator.next(), let low = iterator.next(),
                let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
            {
                bytes.append(value)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// A user as the API server authenticated them.
public struct TapUser: Sendable, Equatable {
    public var name: String
    public var groups: [String]
    public var extra: [String: [String]]

    public init(name: String, groups: [String], extra: [String: [String]] = [:]) {
        self.name = name
        self.groups = groups
        self.extra = extra
    }
}
