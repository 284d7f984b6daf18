/// The labels and annotations the injector writes and everything else reads.
public enum MeshLabels {
    /// On an injected pod: the control plane's namespace. Its presence is what makes a pod meshed.
    public static let controlPlaneNamespace = "swiftlet.io/control-plane-ns"
    public static let workloadNamespace = "swiftlet.io/workload-ns"
    public static let proxyVersion = "swiftlet.io/proxy-version"
    public static let inject = "swiftlet.io/inject"
}
