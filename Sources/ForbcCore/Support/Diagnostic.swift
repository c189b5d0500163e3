/// A position in a manifest file, 1-based like compilers print them.
public struct SourceLocation: Sendable, Equatable, Hashable, Codable {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(file):\(line):\(column)" }
}

/// One problem found in a manifest or a plan, rendered `FILE:LINE:COL: error: message`.
public struct Diagnostic: Sendable, Equatable, Codable, CustomStringConvertible {
    public var location: SourceLocation?
    public var message: String

    public init(_ message: String, at location: SourceLocation?) {
        self.message = message
        self.location = location
    }

    public var description: String {
        if let location { return "\(location.description): error: \(message)" }
        return "error: \(message)"
    }
}

/// Thrown when a manifest or plan has problems; carries every one of them.
public struct DiagnosticsError: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [Diagnostic]
    public init(_ diagnostics: [Diagnostic]) { self.diagnostics = diagnostics }
    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}
