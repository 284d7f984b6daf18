#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The `process_*` families, read from `/proc/self` at scrape time (Linux), as the Prometheus client libraries
/// name them.
enum ProcessMetrics {
    static func render(into out: inout String) {
        let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
        let pageSize = Double(sysconf(Int32(_SC_PAGESIZE)))
        if let stat = readFile("/proc/self/stat"), let closing = stat.lastIndex(of: ")") {
            // Fields after "(comm)": state is field 3; utime 14, stime 15, starttime 22, vsize 23, rss 24.
            let fields = stat[stat.index(after: closing)...].split(separator: " ")
            func field(_ number: Int) -> Double { Double(fields[number - 3]) ?? 0 }
            if fields.count >= 22 {
                let cpu = (field(14) + field(15)) / ticksPerSecond
                out += "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n"
                out += "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total \(cpu)\n"
                out += "# HELP process_virtual_memory_bytes Virtual memory size in bytes.\n"
                out += "# TYPE process_virtual_memory_bytes gauge\nprocess_virtual_memory_bytes \(Int64(field(23)))\n"
                out += "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
                out += "# TYPE process_resident_memory_bytes gauge\n"
                out += "process_resident_memory_bytes \(Int64(field(24) * pageSize))\n"
                if let bootTime = bootTimeSeconds() {
                    let start = bootTime + field(22) / ticksPerSecond
                    out += "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n"
                    out += "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds \(Int64(start))\n"
                }
            }
        }
        out += "# HELP process_open_fds Number of open file descriptors.\n"
        out += "# TYPE process_open_fds gauge\nprocess_open_fds \(openFileDescriptors())\n"
        var limit = rlimit()
        if getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 {
            out += "# HELP process_max_fds Maximum number of open file descriptors.\n"
            out += "# TYPE process_max_fds gauge\nprocess_max_fds \(limit.rlim_cur)\n"
        }
    }

    static func bootTimeSeconds() -> Double? {
        guard let stat = readFile("/proc/stat") else { return nil }
        for line in stat.split(separator: "\n") where line.hasPrefix("btime ") {
            return Double(line.dropFirst(6).trimmingPrefix(" "))
        }
        return nil
    }

    static func openFileDescriptors() -> Int {
        guard let directory = opendir("/proc/self/fd") else { return 0 }
        defer { closedir(directory) }
        var count = 0
        while let entry = readdir(directory) {
            let isDot = withUnsafeBytes(of: entry.pointee.d_name) { $0.first == UInt8(ascii: ".") }
            if !isDot { count += 1 }
        }
        return max(count - 1, 0)  // the descriptor opendir itself holds
    }

    static func readFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
