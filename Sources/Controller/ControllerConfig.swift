/// How `swiftlet controller` runs; parsed once from the command line.
public struct ControllerConfig: Sendable {
    /// The directory of YAML documents (`FileSource`).
    public var manifestDirectory: String
    public var destinationHost = "0.0.0.0"
    public var destinationPort = 8086
    public var adminHost = "0.0.0.0"
    public var adminPort = 9990
    public var identity = MeshIdentity()
    public var clusterDomain = "cluster.local"

    public init(manifestDirectory: String) {
        self.manifestDirectory = manifestDirectory
    }
}
