import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Why the proxy could not start, said as a person would: which listener, which address, which variable, and the
/// system's reason in words (`address already in use`, not `bind(descriptor:ptr:bytes:): … (errno: 98)`).
public struct StartError: Error, CustomStringConvertible {
    public let description: String

    /// A listener that could not bind.
    static func cannotListen(_ listener: String, _ address: String, variable: String, _ error: any Error) -> StartError {
        StartError(description: "cannot listen on \(listener) \(address) (\(variable)): \(Self.reason(error))")
    }

    /// The system's reason for an I/O error, without NIO's call and errno.
    static func reason(_ error: any Error) -> String {
        if let io = error as? IOError { return String(cString: strerror(io.errnoCode)).lowercased() }
        return String(describing: error)
    }

    /// `error` for the log's last line.
    static func describe(_ error: any Error) -> String {
        if let start = error as? StartError { return start.description }
        if error is IOError { return Self.reason(error) }
        return String(describing: error)
    }
}
