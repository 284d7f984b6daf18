import Controller
import Foundation

/// What the viz commands that read Prometheus share: a failure to read it as one `Error:` line, and their rows as JSON,
/// as a table, or — none — a line on standard error (`No traffic found.`, as Linkerd's).
enum VizOutput {
    /// What `fetch` reads; a `VizError` becomes the command's failure (exit status 1).
    static func reading<T>(_ fetch: () async throws -> T) async throws -> T {
        do {
            return try await fetch()
        } catch let error as VizError {
            throw CommandFailure(error.message)
        }
    }

    /// `rows` as JSON (`json`), else as `table` renders them, else `none` on standard error when there are none.
    static func print<Row: Encodable>(_ rows: [Row], json: Bool, none: String, table: ([Row]) -> String) throws {
        if json {
            Swift.print(try StatTable.json(rows), terminator: "")
        } else if rows.isEmpty {
            FileHandle.standardError.write(Data((none + "\n").utf8))
        } else {
            Swift.print(table(rows), terminator: "")
        }
    }
}
