import ForbcCore
import ForbcTestSupport
import Foundation
import Testing

/// Manifests written to break the parser: values that trap a YAML library, notations that mean a number to
/// one reader and text to another, work that grows without bound, characters that break a diagnostic's line.
/// Each must end in located diagnostics, quickly, and never in a crash.
@Suite("hostile manifests")
struct HostileInputTests {
    static let header = "apiVersion: forbc/v1\nkind: Host\nmetadata: {name: n}\n"

    /// A manifest with one vGPU entry whose `count` is written as `count`.
    func counted(_ count: String) -> String {
        Self.header
            + "spec:\n  gpus:\n    - select: {index: 0}\n      vgpu:\n        - {name: a, type: T, count: \(count)}\n"
    }

    @Test(
        "base-60 scalars that overflow are typed by forbc, not constructed (Yams' Int traps on them)",
        arguments: ["9000000000000000000:0", "-9000000000000000000:0", "1:0:0:0:0:0:0:0:0:0:0", "1:2:3"])
    func sexagesimal(text: String) {
        #expect(
            diagnostics("apiVersion: forbc/v1\nkind: Host\nmetadata: {name: \(text)}\nspec: {}\n") == [
                "m.yaml:3:18: error: 'metadata.name' must be a string, not the number \(text); quote it if it is "
                    + "meant as text"
            ])
        #expect(
            diagnostics(counted(text)) == [
                "m.yaml:8:37: error: 'spec.gpus[0].vgpu[0].count' must be an integer, not the number \(text); "
                    + "write decimal digits"
            ])
        #expect(
            diagnostics(Self.header + "spec: {\(text): x}\n") == [
                "m.yaml:4:8: error: unknown key '\(text)' in 'spec'; expected one of: gpus, vms, benchmarks, prune"
            ])
        #expect(diagnostics(Self.header + "spec: {prune: \(text)}\n").count == 1)
    }

    @Test(
        "integers are decimal digits only",
        arguments: ["0b10000", "0x10", "0o20", "020", "1_000", "16.0", "1e3", "+.inf", ".nan", "+16", "+0"])
    func notDecimal(text: String) {
        #expect(
            diagnostics(counted(text)) == [
                "m.yaml:8:37: error: 'spec.gpus[0].vgpu[0].count' must be an integer, not the number \(text); "
                    + "write decimal digits"
            ])
    }

    @Test("decimal integers are read, '-' signed or not ('+16' is refused above); one past Int is out of range")
    func decimal() throws {
        let manifest = try ManifestParser.parse(text: counted("16"), file: "m.yaml")
        #expect(manifest.gpus[0].vgpu[0].count == 16)
        #expect(
            diagnostics(counted("-16")) == [
                "m.yaml:8:37: error: 'spec.gpus[0].vgpu[0].count' is -16; it must be between 1 and 1024"
            ])
        #expect(
            diagnostics(counted("99999999999999999999")) == [
                "m.yaml:8:37: error: 'spec.gpus[0].vgpu[0].count' is 99999999999999999999; it must be between 1 "
                    + "and 1024"
            ])
    }

    @Test("explicit tags are honoured: '!!str 16' is a string, '!!int 16' an integer")
    func tagsHonoured() throws {
        #expect(
            diagnostics(counted("!!str 16")) == [
                "m.yaml:8:37: error: 'spec.gpus[0].vgpu[0].count' must be an integer, not the string '16'"
            ])
        #expect(try ManifestParser.parse(text: counted("!!int 16"), file: "m.yaml").gpus[0].vgpu[0].count == 16)
        #expect(try ManifestParser.parse(text: counted("!!int \"16\""), file: "m.yaml").gpus[0].vgpu[0].count == 16)
        let named = Self.header.replacingOccurrences(of: "{name: n}", with: "{name: !!str 0x10}") + "spec: {}\n"
        #expect(try ManifestParser.parse(text: named, file: "m.yaml").name == "0x10")
        let live = Self.header + "spec:\n  vms:\n    - {domain: d, live: !!str true}\n"
        #expect(
            diagnostics(live) == ["m.yaml:6:25: error: 'spec.vms[0].live' must be true or false, not the string 'true'"]
        )
    }

    @Test("a tag that does not fit its value, or that forbc does not read, is an error")
    func tagsRefused() {
        #expect(
            diagnostics(counted("!!int abc")) == [
                "m.yaml:8:37: error: 'spec.gpus[0].vgpu[0].count' is tagged '!!int' but 'abc' is not a decimal "
                    + "integer; remove the tag or write decimal digits"
            ])
        #expect(
            diagnostics(counted("!!int 0x10")) == [
                "m.yaml:8:37: error: 'spec.gpus[0].vgpu[0].count' is tagged '!!int' but '0x10' is not a decimal "
                    + "integer; remove the tag or write decimal digits"
            ])
        #expect(
            diagnostics(Self.header + "spec:\n  vms:\n    - {domain: d, live: !!bool yes}\n") == [
                "m.yaml:6:25: error: 'spec.vms[0].live' is tagged '!!bool' but 'yes' is not true or false; remove "
                    + "the tag or write true or false"
            ])
        #expect(
            diagnostics(Self.header + "spec: {prune: !custom all}\n") == [
                "m.yaml:4:15: error: 'spec.prune' is tagged '!custom', which forbc does not read; remove the tag"
            ])
        #expect(
            diagnostics(Self.header + "spec: !!set {prune: all}\n") == [
                "m.yaml:4:7: error: 'spec' is tagged '!!set', which forbc does not read; remove the tag"
            ])
        #expect(
            diagnostics(Self.header + "spec: {!!binary prune: all}\n") == [
                "m.yaml:4:8: error: a key of 'spec' is tagged '!!binary', which forbc does not read; remove the tag"
            ])
    }

    /// `entries` vGPU entries of `count` each, under one `all` selector.
    func entries(_ entries: Int, count: Int) -> String {
        Self.header + "spec:\n  gpus:\n    - select: {all: true}\n      vgpu:\n"
            + (0..<entries).map { "        - {name: p\($0), type: T, count: \(count)}\n" }.joined()
    }

    @Test("a manifest declares at most 4096 partitions and 1024 entries, reported where the budget runs out")
    func budgets() throws {
        #expect(ManifestParser.maximumPartitions == 4096 && ManifestParser.maximumEntries == 1024)
        let full = try ManifestParser.parse(text: entries(4, count: 1024), file: "m.yaml")
        #expect(full.gpus[0].vgpu.map(\.count).reduce(0, +) == 4096)
        #expect(
            diagnostics(entries(5, count: 1024)) == [
                "m.yaml:12:11: error: 'spec.gpus[0].vgpu[4]' brings the manifest to 5120 partitions; a manifest "
                    + "declares at most 4096 in all; lower 'count'"
            ])
        #expect(
            diagnostics(entries(1025, count: 1)) == [
                "m.yaml:1032:11: error: 'spec.gpus[0].vgpu[1024]' is partition entry 1025; a manifest holds at most "
                    + "1024 entries; merge entries of one type with 'count'"
            ])
        // The issue's reproduction: 2,800 entries of count 1024 under 'all' (139 KB), one diagnostic, at once.
        #expect(diagnostics(entries(2800, count: 1024)).count == 1)
        let vfs =
            Self.header + "spec:\n  gpus:\n"
            + (0..<17).map { "    - select: {index: \($0)}\n      sriov: {name: v\($0), vfs: 256}\n" }.joined()
        #expect(
            diagnostics(vfs) == [
                "m.yaml:39:14: error: 'spec.gpus[16].sriov' brings the manifest to 4352 partitions; a manifest "
                    + "declares at most 4096 in all; lower 'count'"
            ])
    }

    /// An alias bomb: `l8` expands to 10^9 nodes.
    static let bomb: String = {
        var lines = ["l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
        for i in 1...8 {
            lines.append("l\(i): &l\(i) [" + Array(repeating: "*l\(i - 1)", count: 10).joined(separator: ", ") + "]")
        }
        return lines.joined(separator: "\n") + "\n"
    }()

    @Test("an alias bomb used as a mapping key is refused before anything hashes it")
    func aliasBombAsKey() {
        let budget =
            "the aliases expand the document by more than 20000 nodes ('*l3' here adds 11111, 23441 so far); "
            + "refusing to expand it"
        #expect(diagnostics(Self.bomb + "? *l8\n: v\n") == ["m.yaml:5:10: error: \(budget)"])
        #expect(diagnostics(Self.bomb + "{*l8 : v}\n").count == 1)
        #expect(diagnostics(Self.bomb + "? [*l8, *l8]\n: v\n").count == 1)
    }

    @Test("keys are plain scalars: an alias or a collection as a key is refused, located")
    func complexKeys() {
        #expect(
            diagnostics(Self.header + "k: &k spec\n? *k\n: {}\n") == [
                "m.yaml:5:3: error: the alias '*k' is used as a mapping key; write keys out as plain strings"
            ])
        #expect(
            diagnostics(Self.header + "? [a, b]\n: 1\n? {a: 1}\n: 2\n") == [
                "m.yaml:4:3: error: a list is used as a mapping key; keys are plain strings",
                "m.yaml:6:3: error: a mapping is used as a mapping key; keys are plain strings",
            ])
    }

    @Test("duplicate keys are found on their text, without expanding anything, each where it first appears")
    func duplicateKeys() {
        #expect(
            diagnostics("apiVersion: forbc/v1\nkind: Host\nmetadata: {name: n, \"name\": m}\n'kind': Host\nspec: {}\n")
                == [
                    "m.yaml:2:1: error: duplicate key 'kind' in one mapping; each key may appear once",
                    "m.yaml:3:12: error: duplicate key 'name' in one mapping; each key may appear once",
                ])
        #expect(
            diagnostics(Self.header + "spec: {\"a\\nb\": 1, \"a\\nb\": 2}\n") == [
                "m.yaml:4:8: error: duplicate key 'a\\nb' in one mapping; each key may appear once"
            ])
    }

    @Test("a value that begins with U+FEFF is an error; a byte order mark that begins the file is not")
    func byteOrderMark() throws {
        #expect(
            diagnostics("apiVersion: forbc/v1\nkind: Host\nmetadata: {name: \"\\uFEFFn\"}\nspec: {}\n") == [
                "m.yaml:3:18: error: this value begins with U+FEFF, an invisible byte order mark; remove it"
            ])
        #expect(
            diagnostics("apiVersion: forbc/v1\nkind: Host\nmetadata: {name: \u{FEFF}n}\nspec: {}\n") == [
                "m.yaml:3:18: error: this value begins with U+FEFF, an invisible byte order mark; remove it"
            ])
        #expect(try ManifestParser.parse(text: "\u{FEFF}" + Self.header + "spec: {}\n", file: "m.yaml").name == "n")
        let file = makeTemporaryDirectory("bom").appendingPathComponent("m.yaml")
        try Data([0xEF, 0xBB, 0xBF] + Array((Self.header + "spec: {}\n").utf8)).write(to: file)
        #expect(try ManifestParser.parse(contentsOf: file.path).name == "n")
    }

    @Test("values echoed in diagnostics are escaped, so each diagnostic stays one line of plain text")
    func escapedEchoes() {
        let found = diagnostics(
            "apiVersion: forbc/v1\nkind: Host\nmetadata: {name: \"a\\nb\\e[31mred\\u202E\\\\\"}\nspec: {\"x\\ry\": 1}\n"
        )
        #expect(
            found == [
                "m.yaml:3:18: error: 'metadata.name' is 'a\\nb\\u{1B}[31mred\\u{202E}\\\\'; a host name is 1 to 63 "
                    + "letters, digits, '-', '_', '.' or '+'",
                "m.yaml:4:8: error: unknown key 'x\\ry' in 'spec'; expected one of: gpus, vms, benchmarks, prune",
            ])
        for line in found { #expect(!line.unicodeScalars.contains { $0.properties.generalCategory == .control }) }
        let long = String(repeating: "z", count: 5000)
        let cut = diagnostics(Self.header + "spec: {prune: \(long)}\n")
        #expect(
            cut == [
                "m.yaml:4:15: error: 'spec.prune' is '\(long.prefix(100))...'; it must be one of: managed, none, all"
            ])
    }

    @Test("a manifest is read as a stream: from a pipe, and refused once it passes 1 MiB")
    func streams() throws {
        func viaPipe(_ data: Data) throws -> Manifest {
            let pipe = Pipe()
            let writer = pipe.fileHandleForWriting
            DispatchQueue.global().async {
                writer.write(data)
                try? writer.close()
            }
            return try ManifestParser.parse(
                contentsOf: "/dev/fd/\(pipe.fileHandleForReading.fileDescriptor)", streams: .read)
        }
        #expect(try viaPipe(Data((Self.header + "spec: {}\n").utf8)).name == "n")
        // Exactly one byte too many, so the writer is done before the reader stops.
        let big = Data(repeating: UInt8(ascii: "#"), count: ManifestParser.maximumBytes + 1)
        #expect {
            _ = try viaPipe(big)
        } throws: { error in
            (error as? DiagnosticsError)?.diagnostics.first?.message
                == "input is over 1048576 bytes; a manifest may hold at most 1048576 bytes"
        }
    }
}
