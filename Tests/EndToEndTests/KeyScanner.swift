import Foundation

/// Looks through files for a P-256 private key whose public point is known, in the encodings keys are written in:
/// raw DER (SEC1 or PKCS#8, both carry the public point after the private scalar) or inside PEM blocks.
enum KeyScanner {
    /// Files under `roots` modified since `since` that hold the private key of `publicPoint` (65 bytes, `04 || X || Y`).
    static func filesHoldingPrivateKey(
        of publicPoint: [UInt8], under roots: [String], modifiedSince since: Date, skipping: Set<String> = []
    ) -> [String] {
        var found: [String] = []
        for path in Self.candidates(under: roots, modifiedSince: since, skipping: skipping) {
            guard let data = FileManager.default.contents(atPath: path) else { continue }
            let bytes = [UInt8](data)
            if Self.holdsPrivateKey(of: publicPoint, in: bytes)
                || Self.pemBlocks(in: bytes).contains(where: { Self.holdsPrivateKey(of: publicPoint, in: $0) })
            {
                found.append(path)
            }
        }
        return found
    }

    /// A private key's encoding puts `02 01 01 04 20` (version 1, a 32-byte scalar) before the public point; a
    /// certificate's does not, so a certificate naming the key does not count.
    static func holdsPrivateKey(of point: [UInt8], in bytes: [UInt8]) -> Bool {
        let marker: [UInt8] = [0x02, 0x01, 0x01, 0x04, 0x20]
        var start = 0
        while let index = Self.find(point, in: bytes, from: start) {
            let window = Array(bytes[max(0, index - 96)..<index])
            if Self.find(marker, in: window, from: 0) != nil { return true }
            start = index + 1
        }
        return false
    }

    static func pemBlocks(in bytes: [UInt8]) -> [[UInt8]] {
        guard let text = String(bytes: bytes, encoding: .utf8), text.contains("-----BEGIN") else { return [] }
        var blocks: [[UInt8]] = []
        var body: String? = nil
        for line in text.split(separator: "\n") {
            if line.hasPrefix("-----BEGIN") {
                body = ""
            } else if line.hasPrefix("-----END") {
                if let body, let decoded = Data(base64Encoded: body) { blocks.append([UInt8](decoded)) }
                body = nil
            } else if body != nil {
                body! += line.trimmingCharacters(in: .whitespaces)
            }
        }
        return blocks
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count, start <= haystack.count - needle.count else { return nil }
        var index = start
        while index <= haystack.count - needle.count {
            if haystack[index] == needle[0], Array(haystack[index..<(index + needle.count)]) == needle { return index }
            index += 1
        }
        return nil
    }

    /// Regular files no larger than 16 MiB, modified since `since`, below `roots` (not following symbolic links,
    /// not entering `skipping` directory names).
    static func candidates(under roots: [String], modifiedSince since: Date, skipping: Set<String>) -> [String] {
        var result: [String] = []
        for root in roots {
            guard
                let walker = FileManager.default.enumerator(
                    at: URL(fileURLWithPath: root),
                    includingPropertiesForKeys: [.isRegularFileKey, .isDirectoryKey, .contentModificationDateKey, .fileSizeKey],
                    options: [], errorHandler: { _, _ in true }
                )
            else { continue }
            for case let url as URL in walker {
                guard
                    let values = try? url.resourceValues(forKeys: [
                        .isRegularFileKey, .isDirectoryKey, .contentModificationDateKey, .fileSizeKey,
                    ])
                else { continue }
                if values.isDirectory == true, skipping.contains(url.lastPathComponent) {
                    walker.skipDescendants()
                    continue
                }
                guard values.isRegularFile == true, let modified = values.contentModificationDate, modified >= since,
                    (values.fileSize ?? 0) <= 16 << 20
                else { continue }
                result.append(url.path)
            }
        }
        return result
    }
}
