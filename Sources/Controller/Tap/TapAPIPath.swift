import SwiftletAPI

/// The tap API's request path, Linkerd's shape under our group: what the Kubernetes API server authorizes (verb
/// `watch`, the target's resource, subresource `tap`) before it forwards a tap to the controller.
///
///   /apis/tap.swiftlet.io/v1alpha1/watch/namespaces/{namespace}/tap
///   /apis/tap.swiftlet.io/v1alpha1/watch/namespaces/{namespace}/{resource}/tap           (every one of the kind)
///   /apis/tap.swiftlet.io/v1alpha1/watch/namespaces/{namespace}/{resource}/{name}/tap
public enum TapAPIPath {
    public static let group = "tap.swiftlet.io"
    public static let version = "v1alpha1"
    public static let prefix = "/apis/\(group)/\(version)"

    /// The path for `target`.
    public static func path(for target: Swiftlet_Tap_V1_Resource) -> String {
        let kind = TapResourceKind(parsing: target.type)
        if kind == .namespace {
            return "\(Self.prefix)/watch/namespaces/\(target.name.isEmpty ? target.namespace : target.name)/tap"
        }
        let plural = kind?.plural ?? target.type
        let name = target.name.isEmpty ? "" : "/\(target.name)"
        return "\(Self.prefix)/watch/namespaces/\(target.namespace)/\(plural)\(name)/tap"
    }

    /// The target a path names, or `nil` when it is not a tap path.
    public static func target(_ path: String) -> Swiftlet_Tap_V1_Resource? {
        guard path.hasPrefix(Self.prefix + "/watch/namespaces/") else { return nil }
        let parts = path.dropFirst(Self.prefix.count + "/watch/namespaces/".count).split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count >= 2, parts.count <= 4, parts.last == "tap", parts.dropLast().allSatisfy({ !$0.isEmpty }) else { return nil }
        var target = Swiftlet_Tap_V1_Resource()
        target.namespace = String(parts[0])
        switch parts.count {
        case 2:
            target.type = TapResourceKind.namespace.rawValue
            target.name = target.namespace
        default:
            guard let kind = TapResourceKind(parsing: String(parts[1])), String(parts[1]) == kind.plural else { return nil }
            target.type = kind.rawValue
            if parts.count == 4 { target.name = String(parts[2]) }
        }
        return target
    }
}
