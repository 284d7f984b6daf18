/// The proxy's version, exported as `proxy_build_info` and in `--version`.
public enum BuildInfo {
    public static let version = "0.1.0"
}
