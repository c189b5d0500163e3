import Foundation
internal import Yams

/// Builders of the exported document's YAML nodes, styled as a person writes a manifest (block structure,
/// one flow mapping per partition), and its two renderings: YAML through Yams' emitter, and JSON-ready objects.
enum ExportNode {
    /// A string scalar: plain when it is a simple token that YAML reads back as the same string, otherwise
    /// double-quoted, where the emitter escapes quotes, backslashes, newlines and other control characters.
    static func string(_ value: String) -> Node {
        let style: Node.Scalar.Style = isPlainToken(value) ? .plain : .doubleQuoted
        return .scalar(Node.Scalar(value, Tag(.str), style))
    }

    /// An integer scalar (`count`, `vfs`, `placement`).
    static func int(_ value: Int) -> Node { .scalar(Node.Scalar(String(value), Tag(.int), .plain)) }

    /// A boolean scalar, `true` or `false` (`live`).
    static func bool(_ value: Bool) -> Node { .scalar(Node.Scalar(value ? "true" : "false", Tag(.bool), .plain)) }

    /// A mapping whose keys keep the order given, on one line (`{name: a, type: b}`).
    static func flow(_ pairs: [(String, Node)]) -> Node { mapping(pairs, .flow) }

    /// A mapping whose keys keep the order given, one key per line.
    static func block(_ pairs: [(String, Node)]) -> Node { mapping(pairs, .block) }

    /// A sequence: one item per line, or on one line (`[a, b]`) when `flow`.
    static func list(_ items: [Node], flow: Bool) -> Node {
        .sequence(Node.Sequence(items, Tag(.seq), flow ? .flow : .block))
    }

    /// A mapping of plain-or-quoted string keys, in the order given.
    static func mapping(_ pairs: [(String, Node)], _ style: Node.Mapping.Style) -> Node {
        .mapping(Node.Mapping(pairs.map { (string($0.0), $0.1) }, Tag(.map), style))
    }

    /// Letters, digits and `-_./+`, starting with a letter or digit, and not read back as a number, boolean,
    /// null or date (`123`, `true`, `on`, `null`, `2024-01-01` are quoted).
    static func isPlainToken(_ value: String) -> Bool {
        guard let first = value.first, first.isASCII, first.isLetter || first.isNumber else { return false }
        let simple = value.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_./+".contains($0)) }
        return simple && Resolver.default.resolveTag(of: Node(value)) == .str
    }

    /// The document as YAML. Yams' emitter fails only on a malformed event stream, which these builders never
    /// make (every value is a Swift string, so valid UTF-8); no line is folded (`width: -1`).
    static func yaml(_ node: Node) throws -> String {
        do {
            return try Yams.serialize(node: node, width: -1, allowUnicode: true)
        } catch {
            throw ForbcError(.system, "emitting the export as YAML failed: \(error)", cause: error)
        }
    }

    /// The document as `JSONSerialization` objects: dictionaries, arrays, strings, integers and booleans.
    static func json(_ node: Node) -> Any {
        switch node {
        case .scalar(let scalar):
            if scalar.tag == Tag(.int) { return Int(scalar.string) ?? scalar.string }
            if scalar.tag == Tag(.bool) { return scalar.string == "true" }
            return scalar.string
        case .sequence(let sequence):
            return sequence.map(json)
        case .mapping(let mapping):
            var object: [String: Any] = [:]
            for (key, value) in mapping { object[key.string ?? ""] = json(value) }
            return object
        case .alias:
            return NSNull()
        }
    }
}
