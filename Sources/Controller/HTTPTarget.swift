import Foundation

/// A request target (`/path?a=1&b=x%20y`) as the controller's small HTTP servers read it: the path, and the query's
/// parameters percent-decoded (`+` as a space).
struct HTTPTarget {
    var path: String
    var query: [String: String]

    init(_ uri: String) {
        let parts = uri.split(separator: "?", maxSplits: 1)
        self.path = parts.first.map(String.init) ?? uri
        var query: [String: String] = [:]
        for item in parts.dropFirst().first?.split(separator: "&") ?? [] {
            let pair = item.split(separator: "=", maxSplits: 1).map { String($0).replacingOccurrences(of: "+", with: " ") }
            query[pair[0].removingPercentEncoding ?? pair[0]] = pair.count > 1 ? pair[1].removingPercentEncoding ?? pair[1] : ""
        }
        self.query = query
    }
}
