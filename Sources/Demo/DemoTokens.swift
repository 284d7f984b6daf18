import Foundation

/// Local mode's service-account tokens: the controller's directory (`<dir>/<namespace>/<serviceaccount>`) and a
/// copy for each instance's proxy, as a pod gets its projected token. Files are private to their reader.
struct DemoTokens {
    let controllerDirectory: String
    let podDirectory: String
    let namespace: String
    /// In namespace mode proxies run as this user and must be able to read their token.
    let proxyUID: Int?
    private var issued: [String: String] = [:]

    init(directory: String, namespace: String, proxyUID: Int?) throws {
        self.controllerDirectory = directory + "/tokens"
        self.podDirectory = directory + "/pods"
        self.namespace = namespace
        self.proxyUID = proxyUID
        try FileManager.default.createDirectory(
            atPath: self.controllerDirectory + "/" + namespace, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700]
        )
        try FileManager.default.createDirectory(
            atPath: self.podDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o711])
    }

    /// The token file of `instance`'s proxy, issuing `serviceAccount`'s token on first use.
    mutating func podToken(instance: String, serviceAccount: String) throws -> String {
        let token: String
        if let known = self.issued[serviceAccount] {
            token = known
        } else {
            token = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
            try Self.write(token, to: "\(self.controllerDirectory)/\(self.namespace)/\(serviceAccount)", owner: nil)
            self.issued[serviceAccount] = token
        }
        let directory = self.podDirectory + "/" + instance
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o711])
        let path = directory + "/token"
        try Self.write(token, to: path, owner: self.proxyUID)
        return path
    }

    static func write(_ token: String, to path: String, owner: Int?) throws {
        guard FileManager.default.createFile(atPath: path, contents: Data(token.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw DemoError("cannot write the token file \(path)")
        }
        if let owner { _ = chown(path, uid_t(owner), gid_t(owner)) }
    }
}
