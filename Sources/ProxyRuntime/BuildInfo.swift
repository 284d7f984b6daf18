import MeshModel
import ProxyCore

public enum BuildInfo {
    public static let version = SwiftletVersion.current
}
