/// A document the mesh cannot use, with where it is: the file, the line, and what is wrong.
public struct ManifestError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        public static let syntax = Code(name: "syntax")
        public static let missingField = Code(name: "missing_field")
        public static let invalidField = Code(name: "invalid_field")
        public static let unreadable = Code(name: "unreadable")
        /// Read, but naming something that is not there (a route's backend, parent or filter).
        public static let unresolved = Code(name: "unresolved")
        public var description: String { self.name }
    }

    public var code: Code
    public var file: String
    /// 1-based; 0 when the whole file is at fault (it cannot be read).
    public var line: Int
    public var message: String

    public init(_ code: Code, file: String, line: Int, _ message: String) {
        self.code = code
        self.file = file
        self.line = line
        self.message = message
    }

    /// `file:line: message`, the form editors and compilers use.
    public var description: String { "\(self.file):\(self.line): \(self.message)" }
}
