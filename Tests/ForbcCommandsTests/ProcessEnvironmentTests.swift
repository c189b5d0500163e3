import ForbcTestSupport
import Foundation
import Testing

/// The test process's environment is read by every thread that starts a process (Foundation's `Process` copies
/// it), and the suites run in parallel threads: a test that changed it (setenv and its kin) while another suite
/// spawned made a CI run crash in that copy. No test, and no shared test helper, changes it; configuration goes
/// to a child through the environment it is given, and to a library in this process through its own API (the
/// NVML mock's `forbc_nvml_mock_configure`).
@Suite("no test changes the test process's environment")
struct ProcessEnvironmentTests {
    /// The C library's calls that change the environment (spelt in pieces so that this file holds none).
    static let calls = ["set", "unset", "put", "clear"].map { "\($0)" + "env" }

    /// `file:line: text` of each call in the Swift and C sources under `folder`; `scanned` gets each file read.
    static func uses(under folder: URL, scanned: inout [String]) throws -> [String] {
        let pattern = try NSRegularExpression(pattern: "\\b(\(calls.joined(separator: "|")))\\s*\\(")
        var found: [String] = []
        let walker = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil)
        while let url = walker?.nextObject() as? URL {
            guard ["swift", "c", "h"].contains(url.pathExtension) else { continue }
            let text = try String(contentsOf: url, encoding: .utf8)
            scanned.append(url.lastPathComponent)
            for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let code = String(line.split(separator: "//", maxSplits: 1, omittingEmptySubsequences: false)[0])
                let range = NSRange(code.startIndex..., in: code)
                if pattern.firstMatch(in: code, range: range) != nil {
                    found.append("\(url.path):\(number + 1): \(line)")
                }
            }
        }
        return found.sorted()
    }

    @Test("no setenv, unsetenv, putenv or clearenv in Tests/ or Sources/ForbcTestSupport")
    func noMutation() throws {
        let root = RepositoryPaths.root
        var scanned: [String] = []
        let found =
            try Self.uses(under: root.appendingPathComponent("Tests"), scanned: &scanned)
            + Self.uses(under: root.appendingPathComponent("Sources/ForbcTestSupport"), scanned: &scanned)
        #expect(found.isEmpty, "\(found.joined(separator: "\n"))")
        // A wrong root scans nothing and finds nothing: the scan must have read files, this one among them.
        #expect(scanned.count > 20, "only \(scanned.count) files scanned under \(root.path)")
        #expect(scanned.contains("ProcessEnvironmentTests.swift"), "this file was not scanned under \(root.path)")
    }

    @Test("the scan finds such a call (it is not blind)")
    func scanSees() throws {
        let folder = makeTemporaryDirectory("env-scan")
        defer { try? FileManager.default.removeItem(at: folder) }
        let call = Self.calls[0]
        try "let a = 1\n// \(call)(\"X\", \"1\", 1) in a comment\n_ = \(call)(\"X\", \"1\", 1)\n".write(
            to: folder.appendingPathComponent("a.swift"), atomically: true, encoding: .utf8)
        var scanned: [String] = []
        #expect(try Self.uses(under: folder, scanned: &scanned).count == 1)
        #expect(scanned == ["a.swift"])
    }
}
