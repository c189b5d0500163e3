import ForbcCore
import ForbcTestSupport
import Foundation
import Testing

/// The JSON Schema in Schemas/ describes the same language as `forbc validate`: checked with a real
/// validator (Python's jsonschema, installed by the README's test command).
@Suite("JSON Schema")
struct SchemaTests {
    func check(_ files: [String], schema: String = "manifest") throws -> [String: String] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments =
            [
                "python3", RepositoryPaths.root.appendingPathComponent("Tests/schema/check.py").path,
                RepositoryPaths.root.appendingPathComponent("Schemas/\(schema).schema.json").path,
            ] + files
        let pipe = Pipe()
        let errors = Pipe()
        process.standardOutput = pipe
        process.standardError = errors
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let failure = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        try #require(
            process.terminationStatus == 0,
            "python3 with jsonschema and PyYAML is needed (the README's test command installs them): \(failure)")
        var verdicts: [String: String] = [:]
        for line in output.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            let path = parts[1].split(separator: ":", maxSplits: 1)[0]
            verdicts[String(path)] = String(parts[0])
        }
        return verdicts
    }

    @Test("every manifest in Manifests/ validates against the schema")
    func examples() throws {
        let directory = RepositoryPaths.root.appendingPathComponent("Manifests")
        let all = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".yaml") }
            .map { directory.appendingPathComponent($0).path }
        // A campaign beside the manifests (campaign-h100.yaml) against the campaign schema.
        let campaigns = all.filter { CampaignParser.declaredKind(ofFileAt: $0) == Campaign.kind }
        let files = all.filter { !campaigns.contains($0) }
        #expect(!files.isEmpty && !campaigns.isEmpty)
        let verdicts = try check(files).merging(try check(campaigns, schema: "campaign")) { a, _ in a }
        for file in all { #expect(verdicts[file] == "valid", "\(file)") }
    }

    @Test("the invalid manifests fail the schema too, except those only forbc's cross-checks can see")
    func invalid() throws {
        let text = try String(contentsOfFile: RepositoryPaths.fixture("invalid/EXPECTED"), encoding: .utf8)
        var expected: [String: String] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let fields = line.split(separator: "\t")
            expected[RepositoryPaths.fixture("invalid/\(fields[0])")] = String(fields[1])
        }
        let checked = expected.filter { $0.value != "skip" }
        let verdicts = try check(Array(checked.keys))
        for (file, verdict) in checked {
            #expect(verdicts[file] == (verdict == "rejects" ? "invalid" : "valid"), "\(file)")
        }
        #expect(expected.values.filter { $0 == "rejects" }.count >= 20)
    }

    @Test("the example campaigns validate against the campaign schema, their topology files against the manifest's")
    func campaigns() throws {
        let directory = RepositoryPaths.root.appendingPathComponent("Manifests/campaigns")
        let campaigns = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".yaml") }.map { directory.appendingPathComponent($0).path }
        #expect(!campaigns.isEmpty)
        for (file, verdict) in try check(campaigns, schema: "campaign") { #expect(verdict == "valid", "\(file)") }
        let topologies = try FileManager.default.subpathsOfDirectory(atPath: directory.path)
            .filter { $0.contains("/") && $0.hasSuffix(".yaml") }.map { directory.appendingPathComponent($0).path }
        #expect(topologies.count >= 3)
        for (file, verdict) in try check(topologies) { #expect(verdict == "valid", "\(file)") }
    }

    @Test("invalid campaigns fail the campaign schema: unknown keys, a bad inline manifest, no topologies")
    func invalidCampaigns() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("forbc-schema-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let head = "apiVersion: forbc/v1\nkind: Campaign\nmetadata: {name: c}\nspec:\n"
        let suites = "  suites: [{suite: s, workloads: [cpu-gemm]}]\n"
        let inline = "{apiVersion: forbc/v1, kind: Host, metadata: {name: h}, spec: {gpus: []}}"
        let cases = [
            "valid": head + "  topologies: [{name: t, manifest: \(inline)}]\n" + suites,
            "unknown-key": head + "  topologies: [{name: t, manifest: a.yaml, extra: 1}]\n" + suites,
            "bad-inline": head
                + "  topologies: [{name: t, manifest: \(inline.replacingOccurrences(of: "gpus", with: "gpu"))}]\n"
                + suites,
            "no-topologies": head + "  topologies: []\n" + suites,
            "host-kind": head.replacingOccurrences(of: "Campaign", with: "Host")
                + "  topologies: [{name: t, manifest: a.yaml}]\n"
                + suites,
        ]
        var paths: [String: String] = [:]
        for (name, text) in cases {
            let path = folder.appendingPathComponent("\(name).yaml").path
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            paths[name] = path
        }
        let verdicts = try check(Array(paths.values), schema: "campaign")
        for (name, path) in paths { #expect(verdicts[path] == (name == "valid" ? "valid" : "invalid"), "\(name)") }
    }
}
