/// Turns libyaml's positions into an editor's. libyaml reads YAML 1.1, where U+0085 (NEL), U+2028 (LS) and
/// U+2029 (PS) break lines too; editors break lines at "\n", "\r\n" and "\r" only, so a file holding one of
/// those three would have every later diagnostic a line too low. Every diagnostic of a manifest or campaign
/// gets its line and column here (columns count Unicode scalars, as libyaml's do).
struct SourcePositions {
    /// For each of libyaml's lines, the offset (in Unicode scalars) where it starts; empty when libyaml and an
    /// editor agree on every line (the text holds none of the three), and positions pass through unchanged.
    let yamlLineStarts: [Int]
    /// For each editor line, the offset where it starts.
    let editorLineStarts: [Int]

    init(_ text: String) {
        let scalars = Array(text.unicodeScalars)
        guard scalars.contains(where: Self.isYAMLOnlyBreak) else {
            yamlLineStarts = []
            editorLineStarts = []
            return
        }
        var yaml = [0]
        var editor = [0]
        var offset = 0
        while offset < scalars.count {
            let scalar = scalars[offset]
            offset += 1
            if scalar == "\r" && offset < scalars.count && scalars[offset] == "\n" { offset += 1 }
            if scalar == "\r" || scalar == "\n" {
                yaml.append(offset)
                editor.append(offset)
            } else if Self.isYAMLOnlyBreak(scalar) {
                yaml.append(offset)
            }
        }
        yamlLineStarts = yaml
        editorLineStarts = editor
    }

    static func isYAMLOnlyBreak(_ scalar: Unicode.Scalar) -> Bool {
        scalar == "\u{85}" || scalar == "\u{2028}" || scalar == "\u{2029}"
    }

    /// The editor's 1-based line and column of libyaml's 1-based `line` and `column`.
    func location(file: String, line: Int, column: Int) -> SourceLocation {
        guard !yamlLineStarts.isEmpty, line >= 1, line <= yamlLineStarts.count, column >= 1 else {
            return SourceLocation(file: file, line: line, column: column)
        }
        let offset = yamlLineStarts[line - 1] + column - 1
        // The last editor line starting at or before `offset`.
        var low = 0
        var high = editorLineStarts.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if editorLineStarts[middle] <= offset { low = middle } else { high = middle - 1 }
        }
        return SourceLocation(file: file, line: low + 1, column: offset - editorLineStarts[low] + 1)
    }
}
