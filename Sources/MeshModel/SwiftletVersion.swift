/// The version of this build: the proxy reports it, `install` tags images with it, the injector stamps it on pods,
/// and `check --proxy` compares the two.
public enum SwiftletVersion {
    public static let current = "0.1.0"
}
