import ProxyRuntime

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// `swiftlet-proxy`: configured only by `SWIFTLET_PROXY_*` environment variables (see `--env-reference`).
let status = await ProxyMain.run(arguments: Array(CommandLine.arguments.dropFirst()), environment: ProxyMain.processEnvironment())
exit(status)
