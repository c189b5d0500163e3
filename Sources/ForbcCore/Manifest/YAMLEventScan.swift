// CYaml is the libyaml that Yams builds; SwiftPM hands its module map to every target that depends on Yams.
internal import CYaml

/// A first pass over libyaml's events, before Yams composes the document, for what composing could not survive
/// or would hide. Aliases are counted, never expanded: each adds the size its anchor had, so a document that
/// would expand beyond the node budget is refused before any node is built. Yams hashes every mapping key to
/// find duplicates, which expands an alias or a collection used as a key (exponentially, for an alias bomb),
/// so keys must be plain scalars, and duplicates are found here on their text. Yams also strips a U+FEFF that
/// begins a value, silently; such a value is reported.
struct YAMLEventScan {
    /// How the scan ended.
    enum Outcome {
        /// libyaml read the whole stream; these are the problems found (none: Yams may compose it).
        case read([Diagnostic])
        /// libyaml stopped on an error (or an undefined alias), which composing reports in Yams' words.
        case unreadable
        /// The document expands beyond the budget; this is the one diagnostic to report.
        case overBudget(Diagnostic)
    }

    /// A collection being read, and what it has held so far.
    struct Frame {
        var isMapping: Bool
        var anchor: String?
        /// Nodes in this collection, itself included, aliases counted at their anchor's size.
        var size = 1
        var expectingKey = true
        var keys: [String: SourceLocation] = [:]
        var reported: Set<String> = []
    }

    /// The start of a node, as the mapping that may hold it as a key sees it.
    enum Start {
        case scalar(String)
        case alias(String)
        case collection(isMapping: Bool)
    }

    let file: String
    let budget: Int
    var frames: [Frame] = []
    var anchors: [String: Int] = [:]
    var expanded = 0
    var root: SourceLocation?
    var diagnostics: [Diagnostic] = []
    var stopped: Outcome?

    /// Scans `text`, counting nodes against `budget`; `file` names it in diagnostics.
    static func scan(_ text: String, file: String, budget: Int) -> Outcome {
        var bytes = Array(text.utf8)
        if bytes.isEmpty { return .read([]) }
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { return .unreadable }
        defer { yaml_parser_delete(&parser) }
        var scan = YAMLEventScan(file: file, budget: budget)
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
        let at = SourceLocation(
            file: file, line: Int(event.start_mark.line) + 1, column: Int(event.start_mark.column) + 1)
        switch event.type {
        case YAML_SCALAR_EVENT:
            let scalar = event.data.scalar
            let bytes = UnsafeBufferPointer(start: scalar.value, count: scalar.length)
            if bytes.starts(with: [0xEF, 0xBB, 0xBF]) {
                diagnostics.append(
                    Diagnostic(
                        "this value begins with U+FEFF, an invisible byte order mark; remove it", at: at))
            }
            start(.scalar(String(decoding: bytes, as: UTF8.self)), at: at, adding: 1)
            if let anchor = Self.string(scalar.anchor) { anchors[anchor] = 1 }
            complete(size: 1)
        case YAML_ALIAS_EVENT:
            guard let name = Self.string(event.data.alias.anchor), let size = anchors[name] else {
                stopped = .unreadable
                return
            }
            start(.alias(name), at: at, adding: size)
            complete(size: size)
        case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
            let isMapping = event.type == YAML_MAPPING_START_EVENT
            start(.collection(isMapping: isMapping), at: at, adding: 1)
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

    /// A node starts at `at`, expanding to `nodes` nodes: counted against the budget, and checked as a key.
    mutating func start(_ node: Start, at: SourceLocation, adding nodes: Int) {
        if root == nil { root = at }
        expanded += nodes
        if expanded > budget {
            stopped = .overBudget(
                Diagnostic(
                    "the document expands to more than \(budget) nodes through aliases; refusing to expand it",
                    at: root))
            return
        }
        guard let top = frames.indices.last, frames[top].isMapping, frames[top].expectingKey else { return }
        switch node {
        case .scalar(let text):
            if let first = frames[top].keys[text] {
                if frames[top].reported.insert(text).inserted {
                    diagnostics.append(
                        Diagnostic(
                            "duplicate key \(ManifestWalker.quoted(text)) in one mapping; each key may appear once",
                            at: first))
                }
            } else {
                frames[top].keys[text] = at
            }
        case .alias(let name):
            diagnostics.append(
                Diagnostic(
                    "the alias \(ManifestWalker.quoted("*" + name)) is used as a mapping key; write keys out as "
                        + "plain strings",
                    at: at))
        case .collection(let isMapping):
            diagnostics.append(
                Diagnostic(
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
