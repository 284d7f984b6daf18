import Controller
import Kubernetes
import Testing
import Yams

struct MeshValuesTests {
    @Test("what swiftlet-config stores reads back to the same values, HA's refinements included")
    func roundTrip() throws {
        var values = MeshValues(version: "1.2.3")
        try values.set("ha", "true")
        try values.set("controller.replicas", "5")
        try values.set("proxy.resources.memory.limit", "")
        try values.set("registry", "registry.example/mesh")
        try values.set("proxy.logLevel", "debug")
        let read = try MeshValues(yaml: values.yaml)
        #expect(read == values)
        #expect(read.controllerReplicas == 5, "an explicit replica count survives ha's default of 3")
        #expect(read.webhookFailurePolicy == "Fail")
        #expect(read.proxyImage == "registry.example/mesh/swiftlet-proxy:1.2.3")
    }

    @Test(
        "--set refuses unknown keys and bad values, naming them",
        arguments: [
            ("controller.replicas", "0"), ("imagePullPolicy", "Sometimes"), ("proxy.resources.cpu.limit", "lots"),
            ("proxy.logLevel", "loud"),
            ("nonsense", "1"), ("registry", "has space"), ("webhook.failurePolicy", "Maybe"),
        ])
    func refuses(key: String, value: String) {
        var values = MeshValues(version: "1.0.0")
        #expect(throws: ValuesError.self) { try values.set(key, value) }
        #expect(values == MeshValues(version: "1.0.0"), "a refused value changes nothing")
    }

    @Test func quantities() throws {
        var values = MeshValues(version: "1.0.0")
        for quantity in ["100m", "1", "1.5", "64Mi", "2G", "512k"] {
            try values.set("controller.resources.memory.request", quantity)
            #expect(values.controllerResources.memoryRequest == quantity)
        }
    }

    @Test("stored values with an unknown key are refused rather than half applied")
    func unknownStoredKey() {
        #expect(throws: ValuesError.self) { try MeshValues(yaml: "\"version\": \"1.0.0\"\n\"proxy.colour\": \"blue\"\n") }
        #expect(throws: ValuesError.self) { try MeshValues(yaml: "\"registry\": \"r\"\n") }
    }
}

struct DocumentStreamTests {
    @Test("a stream splits at --- lines, drops empty documents, and writes untouched documents back as they were")
    func splitAndWriteBack() throws {
        let text = "# leading comment\napiVersion: v1\nkind: A  # inline\n---\n---\n# only a comment\n---\nkind: B\n...\n---   \nkind: C\n"
        let stream = try DocumentStream(parsing: text)
        #expect(stream.documents.map { $0["kind"]?.string } == ["A", "B", "C"])
        #expect(try stream.yaml() == "---\n# leading comment\napiVersion: v1\nkind: A  # inline\n---\nkind: B\n---\nkind: C\n")
    }

    @Test("JSON keeps scalar types as YAML resolved them, and order")
    func json() throws {
        let stream = try DocumentStream(parsing: "b: 1\na: \"1\"\nc: [true, null, 1.5, x]\nd: {}\n")
        #expect(
            DocumentStream.json(stream.documents[0])
                == "{\n  \"b\": 1,\n  \"a\": \"1\",\n  \"c\": [\n    true,\n    null,\n    1.5,\n    \"x\"\n  ],\n  \"d\": {}\n}")
    }

    @Test func aBrokenDocumentNamesItsLine() {
        do {
            _ = try DocumentStream(parsing: "kind: A\n---\nkind: B\nspec: [unclosed\n")
            Issue.record("parsed")
        } catch {
            #expect(error.message.contains("document at line 3"), "\(error.message)")
        }
    }
}
