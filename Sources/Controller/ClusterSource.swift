import ServiceLifecycle

/// Where the index's objects come from: a directory of YAML (`FileSource`) or the Kubernetes API
/// (`KubernetesSource`). Both run as services and say when they have read everything once.
public protocol ClusterSource: Service {
    /// Whether everything was read once (the controller is ready then).
    var isLoaded: Bool { get }
    /// Returns once everything was read once.
    func loaded() async throws
}

extension FileSource: ClusterSource {}
extension KubernetesSource: ClusterSource {}
