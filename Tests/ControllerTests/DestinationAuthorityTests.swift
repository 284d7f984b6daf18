import Controller
import Testing

@Suite struct DestinationAuthorityTests {
    @Test(arguments: [
        ("web.emojivoto.svc.cluster.local:8080", "emojivoto", 8080),
        ("web.emojivoto.svc.cluster.local.:8080", "emojivoto", 8080),
        ("web.emojivoto.svc:8080", "emojivoto", 8080),
        ("web.emojivoto:8080", "emojivoto", 8080),
        ("web:8080", "mine", 8080),
        ("WEB.Emojivoto", "emojivoto", 80),
    ])
    func readsEveryFormAnApplicationWrites(authority: String, namespace: String, port: Int) {
        let parsed = DestinationAuthority(parsing: authority, contextNamespace: "mine")
        #expect(parsed == DestinationAuthority(service: ObjectKey(namespace: namespace, name: "web"), port: port))
    }

    @Test(arguments: ["10.0.0.1:80", "web.ns.svc.example.org:80", "web:0", "web:http", "", "a..b:80"])
    func refusesWhatCannotBeAServiceName(authority: String) {
        #expect(DestinationAuthority(parsing: authority, contextNamespace: "mine") == nil)
    }
}
