import ForbcCore
import ForbcTestSupport
import Foundation
import Testing

/// What a hostile review of manifest validation found: a UUID pinned twice, line numbers that YAML 1.1's extra
/// line breaks shifted, a node budget that refused alias-free manifests within the documented limits.
@Suite("manifest review: pinned UUIDs, editor positions, documented limits")
struct ManifestReviewTests {
    static let header = "apiVersion: forbc/v1\nkind: Host\nmetadata: {name: h}\n"

    // MARK: Pinned UUIDs

    @Test("a UUID pinned twice on one GPU, in any case, is refused where it is pinned again")
    func pinnedTwiceOnOneGPU() {
        let text =
            Self.header + "spec:\n  gpus:\n    - select: {index: 0}\n      vgpu:\n"
            + "        - {name: a, type: T4-4Q, uuid: 3b2f5f4e-8b1d-4c2a-9d5e-0a1b2c3d4e5f}\n"
            + "        - {name: b, type: T4-4Q, uuid: 3B2F5F4E-8b1d-4c2a-9d5e-0A1B2C3D4E5F}\n"
        #expect(
            diagnostics(text) == [
                "m.yaml:9:40: error: 'b' pins UUID 3b2f5f4e-8b1d-4c2a-9d5e-0a1b2c3d4e5f, which 'a' pins too (line 8); "
                    + "a UUID identifies one partition, pin another"
            ])
    }

    @Test("a UUID pinned to the UUID forbc derives for another declared partition is refused")
    func pinnedToDerived() throws {
        let derived = UUIDv5.partition(host: "h", name: "a")
        let text =
            Self.header + "spec:\n  gpus:\n    - select: {index: 0}\n      vgpu: [{name: a, type: T4-4Q}]\n"
            + "    - select: {index: 1}\n      vgpu: [{name: b, type: T4-4Q, uuid: \(derived.uppercased())}]\n"
        #expect(
            diagnostics(text) == [
                "m.yaml:9:43: error: 'b' pins UUID \(derived), the UUID forbc derives for partition 'a' (UUIDv5 of "
                    + "'h/a', line 7); pin another"
            ])
        // Another host name derives another UUID: the same pin is then fine.
        let other = text.replacingOccurrences(of: "{name: h}", with: "{name: h2}")
        #expect(try ManifestParser.parse(text: other, file: "m.yaml").gpus[1].vgpu[0].uuid == derived)
    }

    // MARK: Positions as an editor counts them

    /// YAML 1.1's line breaks that editors do not break at.
    static let breaks: [Unicode.Scalar] = ["\u{2028}", "\u{2029}", "\u{85}"]

    @Test("a YAML 1.1 line break in a quoted value moves no later position", arguments: breaks)
    func breakInScalar(_ character: Unicode.Scalar) {
        let text =
            "apiVersion: forbc/v1\nkind: Host\nmetadata: {name: \"h\(character)x\", extra: 1}\n"
            + "spec: {prune: bad}\n"
        let found = diagnostics(text)
        #expect(found.count == 3, "\(found)")
        #expect(found.first?.hasPrefix("m.yaml:3:18: error: 'metadata.name' is ") == true)
        #expect(
            found.dropFirst().first == "m.yaml:3:25: error: unknown key 'extra' in 'metadata'; expected one of: name")
        #expect(found.last == "m.yaml:4:15: error: 'spec.prune' is 'bad'; it must be one of: managed, none, all")
        // The scan's diagnostics (duplicate keys) too.
        #expect(
            diagnostics(
                "metadata: {name: \"h\(character)x\"}\nkind: Host\napiVersion: forbc/v1\nkind: Host\nspec: {}\n")
                == ["m.yaml:2:1: error: duplicate key 'kind' in one mapping; each key may appear once"])
    }

    /// The refusal of `character` at `line`:`column`.
    func refusal(_ character: Unicode.Scalar, _ line: Int, _ column: Int) -> String {
        let code = String(format: "%04X", character.value)
        let name = ["0085": "next line", "2028": "line separator", "2029": "paragraph separator"][code]!
        return "m.yaml:\(line):\(column): error: U+\(code) (\(name)) ends a line for forbc's YAML 1.1 parser but not "
            + "for editors or YAML 1.2, so what follows it is read otherwise than it shows; remove it (in a "
            + "double-quoted string, write '\\u\(code)')"
    }

    @Test(
        "a YAML 1.1 line break outside quotes (a comment, a plain value) is refused where it stands, editor-located",
        arguments: breaks)
    func breakOutsideQuotes(_ character: Unicode.Scalar) {
        // libyaml would end the comment at the character and read 'prune: all' as a key of 'spec'; an editor shows
        // one comment line.
        let hidden = Self.header + "spec:\n  # keep partitions\(character)  prune: all\n  gpus: []\n"
        #expect(diagnostics(hidden) == [refusal(character, 5, 20)])
        // The review's case: libyaml then stops on the line after (its line 3); the character is why.
        #expect(diagnostics("# note\(character)more\n" + Self.header + "spec: {}\n") == [refusal(character, 1, 7)])
        #expect(
            diagnostics(Self.header + "spec: {prune: all\(character)x}\n# \(character)\n")
                == [refusal(character, 4, 18), refusal(character, 5, 3)])
        // Quoted, it is refused by the value's own check, and located as an editor counts.
        #expect(
            diagnostics(Self.header + "spec: {prune: 'all\(character)x', gpus: 1}\n").last
                == "m.yaml:4:30: error: 'spec.gpus' must be a list, not the integer 1")
    }

    @Test("lines end at \\r\\n and \\r as well as \\n, for the nesting scan too")
    func carriageReturns() {
        let deep = "spec: " + String(repeating: "[", count: 70) + "\n"
        for newline in ["\r\n", "\r"] {
            let text = Self.header.replacingOccurrences(of: "\n", with: newline)
            #expect(
                diagnostics(text + deep) == [
                    "m.yaml:4:71: error: nesting deeper than 64 levels; a manifest is never this deep"
                ])
            #expect(
                diagnostics(text + "spec: {prune: bad}" + newline) == [
                    "m.yaml:4:15: error: 'spec.prune' is 'bad'; it must be one of: managed, none, all"
                ])
        }
    }

    // MARK: Documented limits

    @Test("a manifest within every documented limit validates, however many nodes it writes out")
    func largestManifest() throws {
        let entries = (0..<1024).map { "        - {name: p\($0), type: T4-1Q, count: 4}\n" }.joined()
        let names = (0..<1024).flatMap { entry in (0..<4).map { "p\(entry)-\($0)" } }
        let groups = stride(from: 0, to: names.count, by: 64).map { names[$0..<$0 + 64].joined(separator: ", ") }
        let vms = groups.enumerated().map { "    - {domain: vm\($0), attach: [\($1)]}\n" }
        // Three suites on every partition: benchmarks have no documented limit of their own.
        let suites = groups.enumerated().flatMap { index, group in
            ["s", "t", "u"].map { "    - {suite: \($0)\(index), on: [\(group)], workloads: [gemm]}\n" }
        }
        let text =
            Self.header + "spec:\n  gpus:\n    - select: {index: 0}\n      vgpu:\n" + entries + "  vms:\n"
            + vms.joined() + "  benchmarks:\n" + suites.joined()
        #expect(text.utf8.count < ManifestParser.maximumBytes)
        // 7 nodes per entry, one per partition attached and per partition a suite runs on: past the alias budget.
        #expect(1024 * 7 + names.count * 4 > ManifestParser.maximumNodes)
        let manifest = try ManifestParser.parse(text: text, file: "m.yaml")
        #expect(manifest.gpus[0].vgpu.count == 1024 && manifest.vms.count == 64 && manifest.benchmarks.count == 192)
    }

    @Test("aliases that expand beyond the budget are refused where they cross it, naming the alias")
    func aliasBudget() {
        let bomb =
            "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n"
            + (1...4).map {
                "l\($0): &l\($0) [" + Array(repeating: "*l\($0 - 1)", count: 10).joined(separator: ", ") + "]\n"
            }
            .joined()
        // l0 is 11 nodes, l1 111, l2 1111, l3 11111: ten aliases of each level add 12330; l4's first adds 11111.
        #expect(
            diagnostics(bomb) == [
                "m.yaml:5:10: error: the aliases expand the document by more than 20000 nodes ('*l3' here adds "
                    + "11111, 23441 so far); refusing to expand it"
            ])
    }

    // MARK: Integers

    @Test(
        "integers are decimal digits with an optional '-': '+', leading zeros, '_', '0x' are refused, located",
        arguments: ["+2", "+0", "02", "0_2", "0x2", "!!int +2"])
    func notDecimal(text: String) {
        let found = diagnostics(
            Self.header + "spec:\n  gpus:\n    - select: {index: 0}\n      vgpu: [{name: a, type: T, count: \(text)}]\n"
        )
        #expect(found.count == 1 && found[0].hasPrefix("m.yaml:7:40: error: 'spec.gpus[0].vgpu[0].count' "), "\(found)")
    }
}
