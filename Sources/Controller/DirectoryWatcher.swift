#if canImport(Glibc)
    import Glibc

    /// inotify on one directory: reports which files in it were written and closed, created by a rename, or removed.
    ///
    /// `IN_CLOSE_WRITE` rather than `IN_MODIFY`: a file is read once its writer is done, not half-written.
    final class DirectoryWatcher: Sendable {
        /// What changed since the last call.
        enum Change: Equatable, Sendable {
            /// These files (names within the directory).
            case files(Set<String>)
            /// Anything may have: the kernel dropped events, or the directory itself moved. Rescan it all.
            case everything
        }

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
        /// `nil` when nothing happened.
        func waitForChange(timeoutMilliseconds: Int32) -> Change? {
            var pfd = pollfd(fd: self.descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, timeoutMilliseconds) > 0 else { return nil }
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            var names = Set<String>()
            var everything = false
            var sawEvent = false
            while true {
                let count = buffer.withUnsafeMutableBytes { read(self.descriptor, $0.baseAddress, $0.count) }
                if count <= 0 { break }
                sawEvent = true
                Self.parse(buffer[0..<count], into: &names, everything: &everything)
            }
            guard sawEvent else { return nil }
            return everything ? .everything : .files(names)
        }

        /// `struct inotify_event { int wd; uint32_t mask; uint32_t cookie; uint32_t len; char name[len]; }`, packed
        /// one after another; `name` is NUL-padded.
        static func parse(_ bytes: ArraySlice<UInt8>, into names: inout Set<String>, everything: inout Bool) {
            var offset = bytes.startIndex
            func u32(_ at: Int) -> UInt32 {
                UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
            }
            while offset + 16 <= bytes.endIndex {
                let mask = u32(offset + 4)
                let length = Int(u32(offset + 12))
                let nameStart = offset + 16
                guard nameStart + length <= bytes.endIndex else {
                    everything = true
                    return
                }
                if mask & UInt32(IN_Q_OVERFLOW | IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED) != 0 { everything = true }
                let name = bytes[nameStart..<(nameStart + length)].prefix { $0 != 0 }
                if !name.isEmpty { names.insert(String(decoding: name, as: UTF8.self)) }
                offset = nameStart + length
            }
        }

        func close() {
            _ = Glibc.close(self.descriptor)
        }
    }
#endif
