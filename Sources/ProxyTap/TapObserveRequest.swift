import NIOCore
import ProxyGRPC

/// `ObserveRequest`, decoded: what a tap wants and how much of it.
public struct TapObserveRequest: Equatable, Sendable {
    /// Requests (and connections) to tap, then the stream ends when they have.
    public var limit: Int
    public var match: TapMatch
    /// Copy headers and trailers (but the redacted ones' values).
    public var headers: Bool
    /// Taps a second at most; 0: no bound but `limit`.
    public var maxRPS: Int
    /// Opaque TCP connections too.
    public var tcp: Bool

    public init(limit: Int, match: TapMatch = .everything, headers: Bool = false, maxRPS: Int = 0, tcp: Bool = false) {
        self.limit = limit
        self.match = match
        self.headers = headers
        self.maxRPS = maxRPS
        self.tcp = tcp
    }

    /// From the gRPC message's bytes; `limit` 0 is refused, as Linkerd's proxy does.
    public init(decoding bytes: ByteBuffer) throws(TapRequestError) {
        self.init(limit: 0)
        var reader = ProtobufReader(bytes)
        do {
            while let (field, value) = try reader.next() {
                switch field {
                case 1: self.limit = Int(try value.uint32)
                case 2: self.match = try TapMatch(decoding: try value.bytes)
                case 3:
                    // Extract { Http http = 1 { Headers headers = 1 } }: present means asked.
                    var extract = ProtobufReader(try value.bytes)
                    while let (inner, http) = try extract.next() {
                        guard inner == 1 else { continue }
                        var fields = ProtobufReader(try http.bytes)
                        while let (kind, _) = try fields.next() {
                            if kind == 1 { self.headers = true }
                        }
                    }
                case 4: self.maxRPS = Int(try value.uint32)
                case 5: self.tcp = try value.bool
                default: continue
                }
            }
        } catch let error as TapRequestError {
            throw error
        } catch {
            throw TapRequestError("a malformed ObserveRequest: \(error)")
        }
        guard self.limit > 0 else { throw TapRequestError("limit must be more than 0") }
    }
}
