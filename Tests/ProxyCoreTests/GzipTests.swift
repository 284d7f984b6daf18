import Foundation
import ProxyCore
import Testing

/// The proxy's own gzip, read back by a real decoder (Python's zlib): every input comes back byte for byte, and
/// Prometheus text shrinks as a scraper would want it to.
@Suite struct GzipTests {
    /// `bytes` decompressed by `python3 -c 'gzip.decompress(…)'`.
    static func gunzip(_ bytes: [UInt8]) throws -> [UInt8] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import gzip,sys; sys.stdout.buffer.write(gzip.decompress(sys.stdin.buffer.read()))"]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        input.fileHandleForWriting.write(Data(bytes))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw CocoaError(.fileReadCorruptFile) }
        return [UInt8](data)
    }

    @Test func whatIsCompressedDecompressesToItself() throws {
        var random = SystemRandomNumberGenerator()
        let metrics = (0..<2000).map { i in
            "request_total{direction=\"outbound\",authority=\"web.demo.svc.cluster.local:8080\","
                + "target_addr=\"10.0.0.\(i % 7):8080\",tls=\"true\"} \(i)\n"
        }.joined()
        let inputs: [[UInt8]] = [
            [], Array("a".utf8),
            Array("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".utf8),
            (0..<100_000).map { _ in UInt8.random(in: 0...255, using: &random) }, Array(metrics.utf8),
            (0..<70_000).map { UInt8($0 % 251) },  // matches farther back than the window holds
        ]
        for input in inputs {
            let compressed = Gzip.compress(input)
            #expect(try Self.gunzip(compressed) == input, "\(input.count) bytes")
        }
        let text = Array(metrics.utf8)
        #expect(Gzip.compress(text).count * 5 < text.count, "Prometheus text shrinks at least fivefold")
    }

    @Test func theChecksumIsZlibs() {
        #expect(Gzip.crc32(Array("123456789".utf8)) == 0xCBF4_3926)
    }
}
