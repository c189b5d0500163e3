import ForbcYAMLScan
import Foundation
internal import Yams

/// Reads forbc/v1 manifests: a scan of libyaml's events (`YAMLEventScan`), YAML composed by Yams without
/// implicit typing, then a strict walk that types each scalar by forbc's rules and reports every problem at once,
/// each at its line and column.
public enum ManifestParser {
    /// Files larger than this are refused before parsing.
    public static let maximumBytes = 1 << 20
    /// Flow or block nesting deeper than this is refused before parsing (libyaml and the walk recurse).
    public static let maximumDepth = 64
    /// A document whose aliases add more nodes than this (each alias counted at its anchor's size) is refused
    /// before it is composed. Nodes written out are bounded by `maximumBytes` instead.
    public static let maximumNodes = 20_000
    /// The most partitions one `count` may ask for.
    public static let maximumCount = 1024
    /// The most partitions one manifest may declare: its counts, SR-IOV VFs and passthroughs summed. A selector
    /// that matches several GPUs repeats its entries on each, which only a host can tell; this bounds the rest.
    public static let maximumPartitions = 4096
    /// The most partition entries (each `vgpu` and `mig` item, each `sriov` and `passthrough`) in one manifest.
    public static let maximumEntries = 1024
    /// The most diagnostics reported for one file.
    public static let maximumDiagnostics = 200

    /// Parses the manifest at `path`; throws `DiagnosticsError` with every problem found. A file that is not a
    /// regular file is refused unless `streams` lets a pipe or a terminal be read (a file named on the command line).
    public static func parse(contentsOf path: String, streams: BoundedFile.Streams = .refused) throws -> Manifest {
        let data = try bytes(at: path, streams: streams)
        guard let text = String(data: data, encoding: .utf8) else {
            throw DiagnosticsError([
                Diagnostic("file is not valid UTF-8", at: SourceLocation(file: path, line: 1, column: 1))
            ])
        }
        return try parse(text: text, file: path)
    }

    /// Parses manifest text; `file` names it in diagnostics. A byte order mark that begins the text is dropped.
    public static func parse(text: String, file: String) throws -> Manifest {
        let (root, text) = try compose(text: text, file: file)
        var walker = ManifestWalker(file: file, text: text)
        let manifest = walker.walk(root)
        if !walker.diagnostics.isEmpty || manifest == nil { throw DiagnosticsError(sorted(walker.diagnostics)) }
        return manifest!
    }

    /// The checks before the walk (size, nesting, scan, duplicate keys) and the composed document, for the walks
    /// of a Host manifest and of a Campaign; the text without its byte order mark.
    static func compose(text: String, file: String) throws -> (Node, String) {
        var text = text
        if text.unicodeScalars.first == "\u{FEFF}" { text = String(text.unicodeScalars.dropFirst()) }
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
        let positions = SourcePositions(text)
        func diagnostic(_ problem: ScanProblem) -> Diagnostic {
            Diagnostic(
                problem.message,
                at: problem.location.map { positions.location(file: file, line: $0.line, column: $0.column) })
        }
        switch YAMLEventScan.scan(text, budget: maximumNodes, quote: ManifestWalker.quoted) {
        case .overBudget(let problem): throw DiagnosticsError([diagnostic(problem)])
        case .read(let found) where !found.isEmpty: throw DiagnosticsError(sorted(found.map(diagnostic)))
        case .read, .unreadable: break
        }
        let root: Node?
        do {
            // No implicit typing here: the walker types scalars by forbc's rules (ManifestWalker.kind).
            root = try Yams.compose(yaml: text, .basic)
        } catch let error as YamlError {
            throw DiagnosticsError([yamlDiagnostic(error, file: file, positions: positions)])
        } catch {
            throw DiagnosticsError([Diagnostic("cannot parse YAML: \(error)", at: start)])
        }
        guard let root else {
            throw DiagnosticsError([
                Diagnostic("the file is empty; a manifest starts with 'apiVersion: \(Manifest.apiVersion)'", at: start)
            ])
        }
        return (root, text)
    }

    /// Diagnostics in file order (those at one place in the order found), at most `maximumDiagnostics`.
    static func sorted(_ diagnostics: [Diagnostic]) -> [Diagnostic] {
        let sorted = diagnostics.enumerated().sorted { a, b in
            let (l, r) = (a.element.location, b.element.location)
            return (l?.line ?? 0, l?.column ?? 0, a.offset) < (r?.line ?? 0, r?.column ?? 0, b.offset)
        }.map(\.element)
        return Array(sorted.prefix(maximumDiagnostics))
    }

    /// A cheap scan before parsing: flow brackets or block indentation nested beyond `maximumDepth`, located as
    /// an editor counts (lines end at "\n", "\r\n" or "\r"; columns count Unicode scalars, as libyaml's do).
    static func excessiveNesting(in text: String) -> (Int, Int)? {
        var line = 1
        var flowDepth = 0
        var column = 0
        var atLineStart = true
        var indent = 0
        var quote: Unicode.Scalar? = nil
        var previous: Unicode.Scalar? = nil
        for character in text.unicodeScalars {
            defer { previous = character }
            if character == "\n" && previous == "\r" { continue }
            column += 1
            if character == "\n" || character == "\r" {
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

    static func yamlDiagnostic(_ error: YamlError, file: String, positions: SourcePositions) -> Diagnostic {
        func at(_ mark: Mark) -> SourceLocation {
            positions.location(file: file, line: mark.line, column: mark.column)
        }
        switch error {
        case .scanner(let context, let problem, let mark, _):
            return Diagnostic(
                "invalid YAML: \(problem)\(context.map { " \($0.text)" } ?? "")\(tabHint(problem))", at: at(mark))
        case .parser(let context, let problem, let mark, _):
            return Diagnostic("invalid YAML: \(problem)\(context.map { " \($0.text)" } ?? "")", at: at(mark))
        case .composer(_, let problem, let mark, _):
            return Diagnostic("invalid YAML: \(problem)", at: at(mark))
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.map(ManifestWalker.quoted).joined(separator: ", ")
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
}
