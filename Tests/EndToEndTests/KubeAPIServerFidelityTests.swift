import Foundation
import Testing

/// The test API server is allowed only because no real one runs here, and only if it answers as a real one does:
/// kube_api_fidelity.py replays every call a real kube-apiserver 1.36 answered (Tests/Fixtures/kube-api-recordings)
/// against it — the same cluster, the same requests as the same identities, the same changes under the same watches —
/// and compares the answers field by field. A difference here is a bug the test server would hide from every other
/// test.
@Suite(.enabled(if: E2E.available("openssl")))
struct KubeAPIServerFidelityTests {
    @Test func theTestAPIServerAnswersEveryRecordedCallAsTheRealOneDid() async throws {
        try E2E.need("openssl")
        let result = try await run(E2E.python, [E2E.fixtures.appendingPathComponent("kube_api_fidelity.py").path])
        guard let line = result.output.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
            let report = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        else {
            Issue.record("the fidelity check printed no report: \(result.output)")
            return
        }
        let compared = report["compared"] as? Int ?? 0
        #expect(compared >= 90, "every recording is compared")
        for (file, differences) in (report["differences"] as? [String: [String]] ?? [:]).sorted(by: { $0.key < $1.key }) {
            Issue.record("\(file): the test API server differs from the real one:\n  \(differences.joined(separator: "\n  "))")
        }
        #expect(result.status == 0)
    }
}
