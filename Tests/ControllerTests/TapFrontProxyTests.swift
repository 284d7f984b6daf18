import Controller
import NIOHTTP1
import SwiftletAPI
import Testing

/// How the tap API reads the API server's front-proxy configuration and the user it forwards.
struct TapFrontProxyTests {
    /// kube-system/extension-apiserver-authentication as kube-apiserver writes it.
    static let data = [
        "requestheader-allowed-names": #"["front-proxy-client"]"#,
        "requestheader-client-ca-file": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        "requestheader-extra-headers-prefix": #"["X-Remote-Extra-"]"#,
        "requestheader-group-headers": #"["X-Remote-Group"]"#,
        "requestheader-username-headers": #"["X-Remote-User"]"#,
    ]

    @Test("the user, their groups and extra come from the headers the ConfigMap names, once the certificate is the front proxy's")
    func userFromHeaders() throws {
        let front = try TapFrontProxy(configMapData: Self.data)
        #expect(front.allowedNames == ["front-proxy-client"])
        let headers = HTTPHeaders([
            ("X-Remote-User", "alice"), ("X-Remote-Group", "developers"), ("x-remote-group", "system:authenticated"),
            ("X-Remote-Extra-Authentication.kubernetes.io%2fcredential-id", "JTI=1"), ("X-Remote-Extra-Scopes", "a"),
            ("X-Remote-Extra-Scopes", "b"),
        ])
        let user = try front.user(commonName: "front-proxy-client", headers: headers)
        #expect(
            user
                == TapUser(
                    name: "alice", groups: ["developers", "system:authenticated"],
                    extra: ["authentication.kubernetes.io/credential-id": ["JTI=1"], "scopes": ["a", "b"]]))
    }

    @Test("another certificate's headers, or none naming a user, are refused as unauthenticated")
    func refusals() throws {
        let front = try TapFrontProxy(configMapData: Self.data)
        let headers = HTTPHeaders([("X-Remote-User", "alice")])
        #expect(throws: TapError.self) { try front.user(commonName: "someone-else", headers: headers) }
        #expect(throws: TapError.self) { try front.user(commonName: nil, headers: headers) }
        #expect(throws: TapError.self) { try front.user(commonName: "front-proxy-client", headers: HTTPHeaders([("X-Remote-Group", "g")])) }
        // Without allowed names, any certificate of the CA may forward (kube-apiserver's own rule).
        var open = Self.data
        open["requestheader-allowed-names"] = "[]"
        #expect(try TapFrontProxy(configMapData: open).user(commonName: "anyone", headers: headers).name == "alice")
    }

    @Test("a cluster without an aggregation layer, or a garbled list, is said, not guessed around")
    func badConfiguration() {
        var missing = Self.data
        missing["requestheader-client-ca-file"] = nil
        #expect(throws: TapError.self) { try TapFrontProxy(configMapData: missing) }
        var garbled = Self.data
        garbled["requestheader-username-headers"] = "X-Remote-User"
        #expect(throws: TapError.self) { try TapFrontProxy(configMapData: garbled) }
    }

    @Test("the access asked for a tap is what the API server checks for its path: watch on the kind's tap subresource")
    func reviewAttributes() {
        let deployment = Swiftlet_Tap_V1_Resource.with {
            $0.type = "deployment"; $0.namespace = "shop"; $0.name = "web"
        }
        let attributes = TapAggregatedAPI.attributes(deployment)
        #expect(attributes.verb == "watch" && attributes.group == "tap.swiftlet.io" && attributes.resource == "deployments")
        #expect(attributes.subresource == "tap" && attributes.name == "web" && attributes.namespace == "shop")
        let namespace = Swiftlet_Tap_V1_Resource.with {
            $0.type = "namespace"; $0.namespace = "shop"; $0.name = "shop"
        }
        #expect(TapAggregatedAPI.attributes(namespace).resource == "namespaces" && TapAggregatedAPI.attributes(namespace).name == "shop")
        let every = Swiftlet_Tap_V1_Resource.with {
            $0.type = "pod"; $0.namespace = "shop"
        }
        #expect(TapAggregatedAPI.attributes(every).name == nil)
        #expect(TapAggregatedAPI.hint(user: "system:serviceaccount:ci:runner").contains("--serviceaccount=ci:runner"))
    }
}
