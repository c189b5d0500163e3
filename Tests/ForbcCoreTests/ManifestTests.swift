import ForbcCore
import ForbcTestSupport
import Foundation
import Testing

@Suite("manifest parsing and validation")
struct ManifestTests {
    static let exampleManifests = try! FileManager.default.contentsOfDirectory(
        atPath: RepositoryPaths.root.appendingPathComponent("Manifests").path
    )
    .filter {
        // Campaigns (kind: Campaign, e.g. campaign-h100.yaml) are parsed by CampaignTests.
        $0.hasSuffix(".yaml")
            && CampaignParser.declaredKind(
                ofFileAt: RepositoryPaths.root.appendingPathComponent("Manifests/\($0)").path) != Campaign.kind
    }.sorted()

    @Test("every example manifest parses", arguments: exampleManifests)
    func examplesParse(file: String) throws {
        let manifest = try ManifestParser.parse(
            contentsOf: RepositoryPaths.root.appendingPathComponent("Manifests/\(file)").path)
        #expect(!manifest.name.isEmpty)
        #expect(!manifest.gpus.isEmpty || !manifest.benchmarks.isEmpty)
    }

    /// Tests/Fixtures/invalid/EXPECTED: file, schema verdict, forbc's first diagnostic.
    static let invalidCases: [(String, String)] = {
        let text = try! String(contentsOfFile: RepositoryPaths.fixture("invalid/EXPECTED"), encoding: .utf8)
        return text.split(separator: "\n").filter { !$0.hasPrefix("#") }.map { line in
            let fields = line.split(separator: "\t", maxSplits: 2).map(String.init)
            return (fields[0], fields[2])
        }
    }()

    @Test("at least 20 distinct invalid manifests are kept")
    func enoughInvalidCases() { #expect(Self.invalidCases.count >= 20) }

    @Test("each invalid manifest is rejected with its located diagnostic", arguments: invalidCases)
    func invalidRejected(file: String, expected: String) throws {
        let path = RepositoryPaths.fixture("invalid/\(file)")
        do {
            _ = try ManifestParser.parse(contentsOf: path)
            Issue.record("\(file) was accepted")
        } catch let error as DiagnosticsError {
            #expect(error.diagnostics.first?.description == "\(path):\(expected)")
            for diagnostic in error.diagnostics { #expect(diagnostic.location != nil, "every diagnostic is located") }
        }
    }

    @Test("every problem of a file is reported at once")
    func allAtOnce() {
        let found = diagnostics(
            """
            apiVersion: forbc/v1
            kind: Host
            metadata: {name: n}
            spec:
              gpus:
                - select: {index: 0}
                  vgpu:
                    - {name: a, type: T4-4Q, count: 0, colour: red}
                - select: {pciAddress: nope}
                  sriov: {vfs: 2}
              prune: sometimes
            """)
        #expect(
            found == [
                "m.yaml:8:41: error: 'spec.gpus[0].vgpu[0].count' is 0; it must be between 1 and 1024",
                "m.yaml:8:44: error: unknown key 'colour' in 'spec.gpus[0].vgpu[0]'; expected one of: name, type, "
                    + "count, uuid",
                "m.yaml:9:28: error: 'spec.gpus[1].select.pciAddress' is 'nope'; a PCI address looks like "
                    + "'0000:3b:00.0' (domain:bus:device.function, hexadecimal)",
                "m.yaml:11:10: error: 'spec.prune' is 'sometimes'; it must be one of: managed, none, all",
            ])
    }

    @Test("counts expand to NAME-i, numbering continuing across GPUs; count 1 keeps NAME")
    func nameExpansionIsStatic() throws {
        let manifest = try ManifestParser.parse(
            text: """
                apiVersion: forbc/v1
                kind: Host
                metadata: {name: n}
                spec:
                  gpus:
                    - select: {vendor: nvidia}
                      vgpu:
                        - {name: ml, type: T4-4Q, count: 2}
                  vms:
                    - {domain: w, attach: [ml-3], live: true}
                  benchmarks:
                    - {suite: s, on: [ml-0], workloads: [gemm]}
                """, file: "m.yaml")
        #expect(manifest.vms[0].live)
        #expect(manifest.benchmarks[0].on == ["ml-0"])
        #expect(manifest.benchmarks[0].repetitions == 5)
        // With a single-GPU selector, ml-3 cannot exist.
        #expect(
            diagnostics(
                """
                apiVersion: forbc/v1
                kind: Host
                metadata: {name: n}
                spec:
                  gpus:
                    - select: {index: 0}
                      vgpu:
                        - {name: ml, type: T4-4Q, count: 2}
                  vms:
                    - {domain: w, attach: [ml-3]}
                """) == ["m.yaml:10:28: error: 'w' attaches 'ml-3', which no 'spec.gpus' entry declares"])
    }

    @Test("pathological files are refused quickly, not expanded")
    func pathological() throws {
        let clock = ContinuousClock()
        var lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
        for i in 1...12 {
            lines.append("a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ") + "]")
        }
        let bomb = lines.joined(separator: "\n") + "\nspec: *a12\n"
        let deepFlow = "spec: " + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        let deepBlock =
            "spec:\n" + (1...300).map { String(repeating: " ", count: $0) + "k\($0):" }.joined(separator: "\n") + " x\n"
        let dashes = "spec: " + String(repeating: "- ", count: 50_000) + "x\n"
        let huge = "apiVersion: forbc/v1\n" + String(repeating: "# padding\n", count: 120_000)
        for (name, text) in [
            ("bomb", bomb), ("deep flow", deepFlow), ("deep block", deepBlock), ("dashes", dashes), ("huge", huge),
        ] {
            let start = clock.now
            let found = diagnostics(text)
            #expect(found.count == 1, "\(name): \(found)")
            #expect(clock.now - start < .seconds(2), "\(name) took too long")
        }
    }
}

@Suite("identity")
struct IdentityTests {
    @Test("SHA-1 matches FIPS 180 vectors")
    func sha1() {
        #expect(
            UUIDv5.make(namespace: UUIDv5.dnsNamespace, name: "python.org").uuidString.lowercased()
                == "886313e1-3b8a-5372-9b90-0c9aee199e5d")
        #expect(
            UUIDv5.make(namespace: UUIDv5.dnsNamespace, name: "www.example.com").uuidString.lowercased()
                == "2ed6657d-e927-568b-95e1-2665a8aea6a2")
    }

    @Test("partition UUIDs are deterministic per host and name")
    func deterministic() {
        #expect(UUIDv5.partition(host: "a", name: "ml-0") == UUIDv5.partition(host: "a", name: "ml-0"))
        #expect(UUIDv5.partition(host: "a", name: "ml-0") != UUIDv5.partition(host: "b", name: "ml-0"))
        #expect(UUIDv5.partition(host: "a", name: "ml-0") != UUIDv5.partition(host: "a", name: "ml-1"))
    }

    @Test(
        "strict patterns",
        arguments: [
            ("0000:3b:00.0", true), ("0000:3B:1f.7", true), ("0000:3b:20.0", false), ("0000:3b:00.8", false),
            ("3b:00.0", false), ("0000:3b:00", false), ("0000:3b:1f.0", true), ("0000:ff:00.0", true),
            ("ffff:3b:00.0", true), ("0000:3b:00.0 ", false), ("0000:3g:00.0", false), ("0000-3b:00.0", false),
            ("0000:3b.00.0", false), ("0000:3b:00:0", false), ("0000:3b:0a.a", false), ("0000:3b:00.-", false),
            // Fullwidth digits are hexadecimal digits to Swift's Character; a PCI address is ASCII.
            ("\u{FF10}000:3b:00.0", false), ("0000:3\u{FF42}:00.0", false), ("0000:3b:00.0\u{301}", false),
            ("", false), ("0000:3b:00.0\0", false),
        ])
    func pciAddresses(text: String, valid: Bool) { #expect(Patterns.isPCIAddress(text) == valid) }

    @Test(
        "UUIDs: 8-4-4-4-12 ASCII hexadecimal digits",
        arguments: [
            ("6a4f1b2c-0000-4000-8000-00000000000a", true), ("6A4F1B2C-ABCD-4000-8000-00000000000A", true),
            ("6a4f1b2c-0000-4000-8000-00000000000", false), ("6a4f1b2c-0000-4000-8000-00000000000aa", false),
            ("6a4f1b2c00000-4000-8000-00000000000a", false), ("6a4f1b2c-0000-4000-8000-00000000000g", false),
            ("6a4f1b2c-0000-4000-8000\u{2010}00000000000a", false),
            ("\u{FF16}a4f1b2c-0000-4000-8000-00000000000a", false),
            ("", false),
        ])
    func uuids(text: String, valid: Bool) { #expect(Patterns.isUUID(text) == valid) }

    @Test(
        "names refuse paths and shell characters",
        arguments: ["a/b", "..", ".", "-x", "a b", "x;y", "$(id)", "a\u{0}b", String(repeating: "a", count: 64), ""])
    func badNames(name: String) { #expect(!Patterns.isPartitionName(name)) }
}
