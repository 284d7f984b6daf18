#if canImport(Glibc)
import Glibc

/// inotify on one directory: reports that a file in it was written and closed, created by a rename, or removed.
///
/// `IN_CLOSE_WRITE` rather than `IN_MODIFY`: a file is read once its writer is done, not half-written.
final class DirectoryWatcher: Sendable {
    private let descriptor: Int32

    init(path: String) throws(ManifestError) {
        let fd = inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
        guard fd >= 0 else { throw ManifestError(.unreadable, file: path, line: 0, "inotify_init1 failed (errno \(errno))") }
        let mask = UInt32(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF)
        guard inotify_add_watch(fd, path, mask) >= 0 else {
            let code = errno
            Glibc.close(fd)
            throw ManifestError(.unreadable, file: path, line: 0, "cannot watch the directory (errno \(code))")
        }
        self.descriptor = fd
    }

    /// Blocks up to `timeoutMilliseconds` for an event; drains every pending event, so a burst is one reload.
    func waitForChange(timeoutMilliseconds: Int32) -> Bool {
        var pfd = pollfd(fd: self.descriptor, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, timeoutMilliseconds) > 0 else { return false }
        var buffer = [UInt8](repeating: 0, count: 8192)
        var sawEvent = false
        while true {
            let count = buffer.withUnsafeMutableBytes { read(self.descriptor, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            sawEvent = true
        }
        return sawEvent
    }

    func close() {
        _ = Glibc.close(self.descriptor)
    }
}
#endif
