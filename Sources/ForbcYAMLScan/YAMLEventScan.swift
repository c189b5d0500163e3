// CYaml is the libyaml that Yams builds; SwiftPM hands its module map to every target that depends on Yams. This
// target is the only Swift code of forbc that reads libyaml's C API: the core imports no C.
internal import CYaml

/// Where a problem is: 1-based line and column.
public struct ScanLocation: Sendable, Equatable {
    public var line: Int
    public var column: Int
}

/// A problem the scan found, in forbc's voice, at a location.
public struct ScanProblem: Sendable, Equatable {
    public var message: String
    public var location: ScanLocation?

    init(_ message: String, at location: ScanLocation?) {
        self.message = message
        self.location = location
    }
}

/// A first pass over libyaml's events, before Yams composes the document, for what composing could not survive
/// or would hide. Aliases are counted, never expanded: each adds the size its anchor had, so a document whose
/// aliases would add more nodes than the budget is refused before any node is built. Nodes written out are not
/// counted: the file's size bounds them. Yams hashes every mapping key to
/// find duplicates, which expands an alias or a collection used as a key (exponentially, for an alias bomb),
/// so keys must be plain scalars, and duplicates are found here on their text. Yams also strips a U+FEFF that
/// begins a value, silently; such a value is reported. libyaml reads YAML 1.1, where U+0085, U+2028 and U+2029
/// end a line: outside a quoted scalar (in a comment, a plain scalar, between tokens) one would make libyaml read
/// text that an editor shows as part of a comment or of one line, so it is reported where it stands.
public struct YAMLEventScan {
    /// How the scan ended.
    public enum Outcome: Sendable {
        /// libyaml read the whole stream; these are the problems found (none: Yams may compose it).
        case read([ScanProblem])
        /// libyaml stopped on an error (or an undefined alias), which composing reports in Yams' words.
        case unreadable
        /// The aliases expand the document beyond the budget; this is the one problem to report.
        case overBudget(ScanProblem)
    }

    /// A collection being read, and what it has held so far.
    struct Frame {
        var isMapping: Bool
        var anchor: String?
        /// Nodes in this collection, itself included, aliases counted at their anchor's size.
        var size = 1
        var expectingKey = true
        var keys: [String: ScanLocation] = [:]
        var reported: Set<String> = []
    }

    /// The start of a node, as the mapping that may hold it as a key sees it.
    enum Start {
        case scalar(String)
        case alias(String)
        case collection(isMapping: Bool)
    }

    let quote: (String) -> String
    let budget: Int
    var frames: [Frame] = []
    var anchors: [String: Int] = [:]
    /// Nodes the aliases read so far add, each counted at its anchor's size.
    var expanded = 0
    var diagnostics: [ScanProblem] = []
    var stopped: Outcome?
    /// The quoted scalars read so far, as libyaml's character offsets: start (the quote) and end (past it).
    var quoted: [(start: Int, end: Int)] = []

    /// Scans `text`, counting the nodes aliases add against `budget`; `quote` writes a key or an alias as messages
    /// show values.
    public static func scan(_ text: String, budget: Int, quote: @escaping (String) -> String) -> Outcome {
        var bytes = Array(text.utf8)
        if bytes.isEmpty { return .read([]) }
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { return .unreadable }
        defer { yaml_parser_delete(&parser) }
        var scan = YAMLEventScan(quote: quote, budget: budget)
        return bytes.withUnsafeMutableBufferPointer { buffer in
            yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var event = yaml_event_t()
            while yaml_parser_parse(&parser, &event) == 1 {
                defer { yaml_event_delete(&event) }
                if event.type == YAML_STREAM_END_EVENT {
                    return .read(scan.diagnostics + scan.yamlOnlyBreaks(in: text, before: Int.max))
                }
                scan.handle(event)
                if let stopped = scan.stopped { return stopped }
            }
            // Such a break before where libyaml stopped is likely why it stopped: reported instead of its error.
            let breaks = scan.yamlOnlyBreaks(in: text, before: Int(parser.problem_mark.index))
            return breaks.isEmpty ? .unreadable : .read(breaks)
        }
    }

    /// U+0085, U+2028 and U+2029 outside the quoted scalars, before libyaml's character offset `limit`, each
    /// located as libyaml counts lines (as every other location here is).
    func yamlOnlyBreaks(in text: String, before limit: Int) -> [ScanProblem] {
        let names: [Unicode.Scalar: String] = [
            "\u{85}": "next line", "\u{2028}": "line separator", "\u{2029}": "paragraph separator",
        ]
        guard text.unicodeScalars.contains(where: { names[$0] != nil }) else { return [] }
        var problems: [ScanProblem] = []
        var (offset, line, column) = (0, 1, 1)
        var previous: Unicode.Scalar?
        var span = 0
        for scalar in text.unicodeScalars {
            defer {
                offset += 1
                previous = scalar
            }
            if offset >= limit { break }
            if scalar == "\n" && previous == "\r" { continue }
            while span < quoted.count && quoted[span].end <= offset { span += 1 }
            let inQuotes = span < quoted.count && quoted[span].start <= offset
            if let name = names[scalar], !inQuotes {
                let code = String(scalar.value, radix: 16, uppercase: true)
                let padded = String(repeating: "0", count: 4 - code.count) + code
                problems.append(
                    ScanProblem(
                        "U+\(padded) (\(name)) ends a line for forbc's YAML 1.1 parser but not for editors or YAML "
                            + "1.2, so what follows it is read otherwise than it shows; remove it (in a double-quoted "
                            + "string, write '\\u\(padded)')",
                        at: ScanLocation(line: line, column: column)))
            }
            if scalar == "\n" || scalar == "\r" || names[scalar] != nil {
                (line, column) = (line + 1, 1)
            } else {
                column += 1
            }
        }
        return problems
    }

    /// Takes one event: counts it, checks it as a key where it is one, and records anchors' sizes.
    mutating func handle(_ event: yaml_event_t) {
        let at = ScanLocation(line: Int(event.start_mark.line) + 1, column: Int(event.start_mark.column) + 1)
        switch event.type {
        case YAML_SCALAR_EVENT:
            let scalar = event.data.scalar
            if scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE || scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE {
                quoted.append((Int(event.start_mark.index), Int(event.end_mark.index)))
            }
            let bytes = UnsafeBufferPointer(start: scalar.value, count: scalar.length)
            if bytes.starts(with: [0xEF, 0xBB, 0xBF]) {
                diagnostics.append(
                    ScanProblem(
                        "this value begins with U+FEFF, an invisible byte order mark; remove it", at: at))
            }
            start(.scalar(String(decoding: bytes, as: UTF8.self)), at: at)
            if let anchor = Self.string(scalar.anchor) { anchors[anchor] = 1 }
            complete(size: 1)
        case YAML_ALIAS_EVENT:
            guard let name = Self.string(event.data.alias.anchor), let size = anchors[name] else {
                stopped = .unreadable
                return
            }
            expanded += size
            if expanded > budget {
                stopped = .overBudget(
                    ScanProblem(
                        "the aliases expand the document by more than \(budget) nodes (\(quote("*" + name)) here "
                            + "adds \(size), \(expanded) so far); refusing to expand it",
                        at: at))
                return
            }
            start(.alias(name), at: at)
            complete(size: size)
        case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
            let isMapping = event.type == YAML_MAPPING_START_EVENT
            start(.collection(isMapping: isMapping), at: at)
            let anchor = isMapping ? event.data.mapping_start.anchor : event.data.sequence_start.anchor
            frames.append(Frame(isMapping: isMapping, anchor: Self.string(anchor)))
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
            guard let frame = frames.popLast() else { return }
            if let anchor = frame.anchor { anchors[anchor] = frame.size }
            complete(size: frame.size)
        default:
            break
        }
    }

    /// A node starts at `at`: checked as a key where it is one.
    mutating func start(_ node: Start, at: ScanLocation) {
        guard let top = frames.indices.last, frames[top].isMapping, frames[top].expectingKey else { return }
        switch node {
        case .scalar(let text):
            if let first = frames[top].keys[text] {
                if frames[top].reported.insert(text).inserted {
                    diagnostics.append(
                        ScanProblem(
                            "duplicate key \(quote(text)) in one mapping; each key may appear once",
                            at: first))
                }
            } else {
                frames[top].keys[text] = at
            }
        case .alias(let name):
            diagnostics.append(
                ScanProblem(
                    "the alias \(quote("*" + name)) is used as a mapping key; write keys out as "
                        + "plain strings",
                    at: at))
        case .collection(let isMapping):
            diagnostics.append(
                ScanProblem(
                    "\(isMapping ? "a mapping" : "a list") is used as a mapping key; keys are plain strings", at: at))
        }
    }

    /// A node of `size` nodes is complete: its collection grows, and a mapping turns from key to value or back.
    mutating func complete(size: Int) {
        guard let top = frames.indices.last else { return }
        frames[top].size += size
        if frames[top].isMapping { frames[top].expectingKey.toggle() }
    }

    /// A NUL-terminated libyaml string (an anchor's name), if there is one.
    static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        pointer.map { String(cString: $0) }
    }
}
