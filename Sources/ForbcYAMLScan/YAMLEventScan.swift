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
/// begins a value, silently; such a value is reported.
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
                if event.type == YAML_STREAM_END_EVENT { return .read(scan.diagnostics) }
                scan.handle(event)
                if let stopped = scan.stopped { return stopped }
            }
            return .unreadable
        }
    }

    /// Takes one event: counts it, checks it as a key where it is one, and records anchors' sizes.
    mutating func handle(_ event: yaml_event_t) {
        let at = ScanLocation(line: Int(event.start_mark.line) + 1, column: Int(event.start_mark.column) + 1)
        switch event.type {
        case YAML_SCALAR_EVENT:
            let scalar = event.data.scalar
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
