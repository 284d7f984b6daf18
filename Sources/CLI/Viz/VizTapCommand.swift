import ArgumentParser
import Controller
import Foundation
import SwiftProtobuf
import SwiftletAPI

/// `swiftlet viz tap`: every request the target's proxies see, as it happens, one line per event (Linkerd's format).
struct VizTapCommand: AsyncCommand {
    static let configuration = CommandConfiguration(
        commandName: "tap",
        abstract: "Streams the requests through a resource's proxies, live: request, response and end of each.",
        discussion: """
            Each request is three lines, Linkerd's format: `req` (method, authority, path), `rsp` (status, latency since \
            the request) and `end` (gRPC status or reset, duration of the response, bytes). -o wide adds the resources at \
            each end and the route and backend that served it; -o json prints each event as JSON, headers included \
            (those in the proxies' redaction list are never sent). Stop with Ctrl-C.
            Examples: swiftlet viz tap deploy/web -n shop; swiftlet viz tap deploy/web --to svc/api --path /orders
            """
    )

    @OptionGroup var options: TapOptions

    @Option(name: [.customShort("o"), .customLong("output")], help: "Output: \"\" (a line per event), wide, or json.")
    var output = ""

    func validate() throws {
        guard ["", "wide", "json"].contains(self.output) else { throw ValidationError("-o must be \"\", wide or json") }
    }

    func execute() async throws {
        let request = try self.options.request(headers: self.output == "json")
        let (endpoint, output) = (try self.options.endpoint(), self.output)
        try await withGracefulShutdownOnSignals {
            var printed = 0
            var notices: [String] = []
            try await TapAPIClient.stream(request, endpoint: endpoint, untilCancelled: true) { event in
                if let notice = TapEventLine.notice(event) {
                    notices.append(notice)
                    FileHandle.standardError.write(Data((notice + "\n").utf8))
                    return
                }
                let line: String? = output == "json" ? try event.jsonString() : TapEventLine.format(event, wide: output == "wide")
                guard let line else { return }
                // Unbuffered: a line per event as it comes, piped or not.
                FileHandle.standardOutput.write(Data((line + "\n").utf8))
                printed += 1
            }
            if printed == 0, !notices.isEmpty { throw CommandFailure("the tap ended: no pod of the target could be tapped") }
        }
    }
}
