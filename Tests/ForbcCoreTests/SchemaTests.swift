import ForbcTestSupport
import Foundation
import Testing

/// The JSON Schema in Schemas/ describes the same language as `forbc validate`: checked with a real
/// validator (Python's jsonschema, installed by the README's test command).
@Suite("JSON Schema")
struct SchemaTests {
    func check(_ files: [String]) throws -> [String: String] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments =
            [
                "python3", RepositoryPaths.root.appendingPathComponent("Tests/schema/check.py").path,
                RepositoryPaths.root.appendingPathComponent("Schemas/manifest.schema.json").path,
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
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".yaml") }
            .map { directory.appendingPathComponent($0).path }
        #expect(!files.isEmpty)
        let verdicts = try check(files)
        for file in files { #expect(verdicts[file] == "valid", "\(file)") }
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
}
