/// One problem found in a workload profile: where it is and what would be accepted.
public struct ProfileDiagnostic: Hashable, Codable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    /// The field path, e.g. `access.sharing`; empty for the document itself.
    public var path: String
    public var message: String
    /// What would be accepted, when that can be said (`one of exclusive, shared, read-only-shared`).
    public var expected: String?

    public init(file: String, line: Int, column: Int, path: String, message: String, expected: String? = nil) {
        self.file = file
        self.line = line
        self.column = column
        self.path = path
        self.message = message
        self.expected = expected
    }

    /// `file:line:column: error: path: message; expected …`, the form compilers use and editors link.
    public var description: String {
        var text = "\(file):\(line):\(column): error: "
        if !path.isEmpty { text += "\(path): " }
        text += message
        if let expected { text += "; expected \(expected)" }
        return text
    }
}

/// A profile that was refused as a whole, with every problem found.
public struct InvalidProfileError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var diagnostics: [ProfileDiagnostic]

    public var description: String {
        let count = diagnostics.count == 1 ? "1 problem" : "\(diagnostics.count) problems"
        return "\(file): invalid workload profile (\(count)):\n" + diagnostics.map { "  \($0)" }.joined(separator: "\n")
    }
}

/// The profile file could not be read at all.
public struct ProfileReadError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var reason: String
    public var description: String { "\(file): cannot read workload profile: \(reason)" }
}
