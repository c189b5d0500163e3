import Foundation
internal import Yams

/// Reads forbc/v1 manifests: YAML through Yams, then a strict walk that reports every problem at once,
/// each at its line and column.
public enum ManifestParser {
    /// Files larger than this are refused before parsing.
    public static let maximumBytes = 1 << 20
    /// Flow or block nesting deeper than this is refused before parsing (libyaml and the walk recurse).
    public static let maximumDepth = 64
    /// A document that expands (through aliases) to more nodes than this is refused before it is walked.
    public static let maximumNodes = 20_000
    /// The most partitions one `count` may ask for.
    public static let maximumCount = 1024
    /// The most diagnostics reported for one file.
    public static let maximumDiagnostics = 200

    /// Parses the manifest at `path`; throws `DiagnosticsError` with every problem found.
    public static func parse(contentsOf path: String) throws -> Manifest {
        let url = URL(fileURLWithPath: path)
        let data: Data
        do {
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            if let size = attributes[.size] as? Int, size > maximumBytes {
                throw DiagnosticsError([
                    Diagnostic(
                        "file is \(size) bytes; a manifest may hold at most \(maximumBytes) bytes",
                        at: SourceLocation(file: path, line: 1, column: 1))
                ])
            }
            data = try Data(contentsOf: url)
        } catch let error as DiagnosticsError {
            throw error
        } catch {
            throw DiagnosticsError([Diagnostic("cannot read '\(path)': \(readableReason(error))", at: nil)])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw DiagnosticsError([
                Diagnostic("file is not valid UTF-8", at: SourceLocation(file: path, line: 1, column: 1))
            ])
        }
        return try parse(text: text, file: path)
    }

    /// Parses manifest text; `file` names it in diagnostics.
    public static func parse(text: String, file: String) throws -> Manifest {
        let start = SourceLocation(file: file, line: 1, column: 1)
        if text.utf8.count > maximumBytes {
            throw DiagnosticsError([
                Diagnostic(
                    "file is \(text.utf8.count) bytes; a manifest may hold at most \(maximumBytes) bytes", at: start)
            ])
        }
        if let (line, column) = excessiveNesting(in: text) {
            throw DiagnosticsError([
                Diagnostic(
                    "nesting deeper than \(maximumDepth) levels; a manifest is never this deep",
                    at: SourceLocation(file: file, line: line, column: column))
            ])
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw DiagnosticsError([yamlDiagnostic(error, file: file)])
        } catch {
            throw DiagnosticsError([Diagnostic("cannot parse YAML: \(error)", at: start)])
        }
        guard let root else {
            throw DiagnosticsError([
                Diagnostic("the file is empty; a manifest starts with 'apiVersion: \(Manifest.apiVersion)'", at: start)
            ])
        }
        var budget = maximumNodes
        if !countNodes(root, budget: &budget) {
            throw DiagnosticsError([
                Diagnostic(
                    "the document expands to more than \(maximumNodes) nodes through aliases; refusing to expand it",
                    at: location(root, file) ?? start)
            ])
        }
        var walker = ManifestWalker(file: file, text: text)
        let manifest = walker.walk(root)
        if !walker.diagnostics.isEmpty || manifest == nil {
            let sorted = walker.diagnostics.enumerated().sorted { a, b in
                let (l, r) = (a.element.location, b.element.location)
                return (l?.line ?? 0, l?.column ?? 0, a.offset) < (r?.line ?? 0, r?.column ?? 0, b.offset)
            }.map(\.element)
            throw DiagnosticsError(Array(sorted.prefix(maximumDiagnostics)))
        }
        return manifest!
    }

    static func location(_ node: Node, _ file: String) -> SourceLocation? {
        node.mark.map { SourceLocation(file: file, line: $0.line, column: $0.column) }
    }

    /// Counts nodes as a walk would visit them (aliases expanded), stopping once the budget runs out.
    static func countNodes(_ node: Node, budget: inout Int) -> Bool {
        budget -= 1
        if budget < 0 { return false }
        switch node {
        case .scalar, .alias: return true
        case .sequence(let sequence):
            for child in sequence where !countNodes(child, budget: &budget) { return false }
        case .mapping(let mapping):
            for (key, value) in mapping {
                if !countNodes(key, budget: &budget) || !countNodes(value, budget: &budget) { return false }
            }
        }
        return true
    }

    /// A cheap scan before parsing: flow brackets or block indentation nested beyond `maximumDepth`.
    static func excessiveNesting(in text: String) -> (Int, Int)? {
        var line = 1
        var flowDepth = 0
        var column = 0
        var atLineStart = true
        var indent = 0
        var quote: Character? = nil
        for character in text {
            column += 1
            if character == "\n" {
                line += 1
                column = 0
                atLineStart = true
                indent = 0
                quote = nil
                continue
            }
            if atLineStart {
                // Block nesting shows as indentation and as "- " items stacked on one line.
                if character == " " || character == "-" { indent += 1 } else { atLineStart = false }
                if indent > maximumDepth * 4 { return (line, column) }
            }
            if let open = quote {
                if character == open { quote = nil }
                continue
            }
            switch character {
            case "\"", "'": quote = character
            case "#": break
            case "[", "{":
                flowDepth += 1
                if flowDepth > maximumDepth { return (line, column) }
            case "]", "}": flowDepth = max(0, flowDepth - 1)
            default: break
            }
        }
        return nil
    }

    static func yamlDiagnostic(_ error: YamlError, file: String) -> Diagnostic {
        func at(_ mark: Mark) -> SourceLocation { SourceLocation(file: file, line: mark.line, column: mark.column) }
        switch error {
        case .scanner(let context, let problem, let mark, _):
            return Diagnostic(
                "invalid YAML: \(problem)\(context.map { " \($0.text)" } ?? "")\(tabHint(problem))", at: at(mark))
        case .parser(let context, let problem, let mark, _):
            return Diagnostic("invalid YAML: \(problem)\(context.map { " \($0.text)" } ?? "")", at: at(mark))
        case .composer(_, let problem, let mark, _):
            return Diagnostic("invalid YAML: \(problem)", at: at(mark))
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.map { "'\($0)'" }.joined(separator: ", ")
            return Diagnostic("duplicate key \(keys) in one mapping; each key may appear once", at: at(context.mark))
        case .reader(let problem, _, _, _):
            return Diagnostic("invalid YAML: \(problem)", at: SourceLocation(file: file, line: 1, column: 1))
        default:
            return Diagnostic("invalid YAML: \(error)", at: SourceLocation(file: file, line: 1, column: 1))
        }
    }

    static func tabHint(_ problem: String) -> String {
        problem.contains("tab") || problem.contains("cannot start any token")
            ? "; indent with spaces, YAML forbids tabs" : ""
    }

    static func readableReason(_ error: Error) -> String {
        let nsError = error as NSError
        if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain
        {
            return Errno.describe(Int32(underlying.code))
        }
        if nsError.domain == NSCocoaErrorDomain && nsError.code == NSFileReadNoSuchFileError {
            return Errno.describe(Errno.ENOENT)
        }
        return nsError.localizedDescription
    }
}
