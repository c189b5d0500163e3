internal import Yams

/// forbc's own typing of YAML scalars. Yams composes without implicit typing, so nothing here constructs a
/// value through Yams (whose base-60 integers trap on overflow): integers are decimal digits only, booleans are
/// `true` and `false` only, and explicit tags are honoured or refused.
extension ManifestWalker {
    enum ScalarKind: String { case string, integer, boolean, null, number, timestamp }

    static let nullWords: Set<String> = ["", "~", "null", "Null", "NULL"]
    // YAML 1.2 core booleans only: 'on', 'yes', 'no' stay strings (benchmarks have an 'on' key).
    static let booleanWords: Set<String> = ["true", "True", "TRUE", "false", "False", "FALSE"]

    /// What a scalar is by forbc's rules: its tag when it has one, else (plain scalars) its text.
    func kind(of scalar: Node.Scalar) -> ScalarKind {
        switch Tag.Name(rawValue: scalar.tag.rawValue) {
        case .implicit: return Self.plainKind(scalar.string)
        case .int: return Self.isDecimalInteger(scalar.string) ? .integer : .string
        case .bool: return Self.booleanWords.contains(scalar.string) ? .boolean : .string
        case .null: return Self.nullWords.contains(scalar.string) ? .null : .string
        case .float: return .number
        case .timestamp: return .timestamp
        default: return .string
        }
    }

    /// A plain, untagged scalar: null, a boolean, a decimal integer; what other YAML readers would take for a
    /// number (hexadecimal, octal, binary, base 60, with '_', a float) or a date is neither a string nor an
    /// integer here, so that no manifest means one thing to forbc and another to the tools beside it.
    static func plainKind(_ text: String) -> ScalarKind {
        if nullWords.contains(text) { return .null }
        if booleanWords.contains(text) { return .boolean }
        if isDecimalInteger(text) { return .integer }
        // Every int, float and timestamp pattern of Yams' resolver begins with a digit, a sign or '.': the rest are
        // strings, found without its regular expressions (most of the walk's time in a large manifest).
        guard let first = text.utf8.first,
            first == UInt8(ascii: "-") || first == UInt8(ascii: "+")
                || first == UInt8(ascii: ".") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first)
        else { return .string }
        // Yams' resolver only matches its patterns here; it constructs nothing.
        switch Resolver.default.resolveTag(of: Node(text)) {
        case .int, .float: return .number
        case .timestamp: return .timestamp
        default: return .string
        }
    }

    /// '0' or digits not starting with '0', after an optional '-' (a negative number is then out of its range,
    /// which says more than "not an integer"). '+', like '0x', '_' or a leading zero, is another reader's number.
    static func isDecimalInteger(_ text: String) -> Bool {
        var digits = Substring(text)
        if digits.first == "-" { digits = digits.dropFirst() }
        guard !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
        else { return false }
        return digits.utf8.count == 1 || digits.first != "0"
    }

    /// Why `node`'s tag cannot be honoured ("… is tagged …; remedy"), or nil when it can (or it has none).
    func tagProblem(_ node: Node) -> String? {
        let name: Tag.Name
        switch node {
        case .scalar(let scalar):
            name = Tag.Name(rawValue: scalar.tag.rawValue)
            let text = Self.quoted(scalar.string)
            switch name {
            case .implicit, .nonSpecific, .str: return nil
            case .int where !Self.isDecimalInteger(scalar.string):
                return "is tagged '!!int' but \(text) is not a decimal integer; remove the tag or write decimal digits"
            case .bool where !Self.booleanWords.contains(scalar.string):
                return "is tagged '!!bool' but \(text) is not true or false; remove the tag or write true or false"
            case .null where !Self.nullWords.contains(scalar.string):
                return "is tagged '!!null' but \(text) is not null; remove the tag"
            case .int, .bool, .null: return nil
            default: break
            }
        case .mapping(let mapping):
            name = Tag.Name(rawValue: mapping.tag.rawValue)
            if [.implicit, .nonSpecific, .map].contains(name) { return nil }
        case .sequence(let sequence):
            name = Tag.Name(rawValue: sequence.tag.rawValue)
            if [.implicit, .nonSpecific, .seq].contains(name) { return nil }
        case .alias: return nil
        }
        return "is tagged \(Self.quoted(Self.shortTag(name))), which forbc does not read; remove the tag"
    }

    /// A tag as it is written: 'tag:yaml.org,2002:int' as '!!int'.
    static func shortTag(_ name: Tag.Name) -> String {
        let prefix = "tag:yaml.org,2002:"
        return name.rawValue.hasPrefix(prefix) ? "!!" + name.rawValue.dropFirst(prefix.count) : name.rawValue
    }

    /// How a message names `node`: "a list", "the string 'x'", "the number 0x10" (values escaped).
    func describe(_ node: Node) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        case .scalar(let scalar):
            let text = Self.escaped(scalar.string)
            switch kind(of: scalar) {
            case .string: return "the string '\(text)'"
            case .integer: return "the integer \(text)"
            case .boolean: return "the boolean \(text)"
            case .null: return "null"
            case .number: return "the number \(text)"
            case .timestamp: return "the timestamp \(text)"
            }
        }
    }

    /// A value quoted for a message: `'text'`, escaped so that the message stays one line of plain text.
    static func quoted(_ text: String) -> String { "'\(escaped(text))'" }

    /// The longest value a message echoes whole; longer ones are cut, with '...' after them.
    static let longestEcho = 100

    /// `text` with control, format and separator characters (newlines, escape sequences, U+FEFF, bidi marks) and
    /// backslashes escaped as Swift writes them ('\n', '\u{1B}', '\\'), cut after `longestEcho` characters.
    static func escaped(_ text: String) -> String {
        var result = ""
        for (index, scalar) in text.unicodeScalars.enumerated() {
            if index == longestEcho {
                result += "..."
                break
            }
            switch scalar {
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case "\\": result += "\\\\"
            default:
                switch scalar.properties.generalCategory {
                case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate, .privateUse, .unassigned:
                    result += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
                default: result.unicodeScalars.append(scalar)
                }
            }
        }
        return result
    }
}
