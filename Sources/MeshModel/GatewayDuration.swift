/// The Gateway API's duration (GEP-2257): one to four parts, each up to five digits and a unit of `h`, `m`, `s` or
/// `ms`, e.g. `10s`, `1h30m`, `500ms`, `0s`. Annotations (`timeout.swiftlet.io/request: 2.5s`) may also give a
/// decimal number of a unit, as Linkerd's do.
public enum GatewayDuration {
    /// Nanoseconds.
    public static func parse(_ text: String, allowFractions: Bool = false) throws(RouteError) -> Int64 {
        var total: Int64 = 0
        var parts = 0
        var rest = Substring(text)
        guard !rest.isEmpty else { throw RouteError(.invalidDuration, "duration is empty") }
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isASCII && ($0.isNumber || (allowFractions && $0 == ".")) }
            guard !digits.isEmpty, digits.filter({ $0 != "." }).count <= 5, digits.filter({ $0 == "." }).count <= 1 else {
                throw RouteError(.invalidDuration, "duration \"\(text)\" must be numbers with units h, m, s or ms (e.g. 10s, 1h30m, 500ms)")
            }
            rest = rest.dropFirst(digits.count)
            let unit: Int64
            switch rest.first {
            case "m" where rest.dropFirst().first == "s": unit = 1_000_000
            case "h": unit = 3_600_000_000_000
            case "m": unit = 60_000_000_000
            case "s": unit = 1_000_000_000
            default: throw RouteError(.invalidDuration, "duration \"\(text)\" needs a unit (h, m, s or ms) after each number")
            }
            rest = rest.dropFirst(unit == 1_000_000 ? 2 : 1)
            guard let value = Double(digits) else { throw RouteError(.invalidDuration, "duration \"\(text)\" is not a number") }
            total += Int64(value * Double(unit))
            parts += 1
        }
        guard parts <= 4 else { throw RouteError(.invalidDuration, "duration \"\(text)\" has more than four parts") }
        return total
    }
}
