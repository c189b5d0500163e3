import ForbcTestSupport
import Foundation
import Testing

/// Hostile manifests through the built binary, where a crash is an exit status rather than a lost test run.
@Suite("hostile manifests on the command line")
struct HostileInputCLITests {
    struct Outcome {
        var code: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs the built forbc binary with `input` on its standard input.
    func forbc(_ arguments: [String], input: String = "") throws -> Outcome {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("forbc").path
        let path =
            FileManager.default.fileExists(atPath: beside)
            ? beside : RepositoryPaths.root.appendingPathComponent(".build/debug/forbc").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let (stdin, stdout, stderr) = (Pipe(), Pipe(), Pipe())
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        let errors = stderr.fileHandleForReading.readDataToEndOfFile()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Outcome(
            code: process.terminationStatus, stdout: String(decoding: output, as: UTF8.self),
            stderr: String(decoding: errors, as: UTF8.self))
    }

    static let sexagesimal = "apiVersion: forbc/v1\nkind: Host\nmetadata: {name: 9000000000000000000:0}\nspec: {}\n"

    @Test("validate of an overflowing base-60 name exits 1 with a located error, not 132 (SIGILL)")
    func sexagesimalName() throws {
        let file = writeManifest(Self.sexagesimal)
        let result = try forbc(["validate", file])
        #expect(result.code == 1)
        #expect(
            result.stderr
                == "\(file):3:18: error: 'metadata.name' must be a string, not the number 9000000000000000000:0; "
                + "quote it if it is meant as text\n")
    }

    @Test("validate reads /dev/stdin from a pipe")
    func standardInput() throws {
        let quickstart = try String(contentsOfFile: RepositoryPaths.manifest("quickstart"), encoding: .utf8)
        let valid = try forbc(["validate", "/dev/stdin"], input: quickstart)
        #expect(valid.code == 0)
        #expect(valid.stdout == "/dev/stdin: valid\n")
        let invalid = try forbc(["validate", "/dev/stdin"], input: Self.sexagesimal)
        #expect(invalid.code == 1)
        #expect(invalid.stderr.hasPrefix("/dev/stdin:3:18: error: 'metadata.name' must be a string"))
    }

    @Test("drift --metrics on a manifest that fails to parse replaces the last 'forbc_drift 0' with failure metrics")
    func driftMetrics() throws {
        let directory = makeTemporaryDirectory("hostile-drift")
        defer { try? FileManager.default.removeItem(at: directory) }
        let metrics = directory.appendingPathComponent("forbc.prom").path
        try "forbc_drift{host=\"n\",manifest=\"m.yaml\"} 0\n".write(toFile: metrics, atomically: true, encoding: .utf8)
        let file = writeManifest(Self.sexagesimal)
        let result = try forbc([
            "drift", "--simulate", "nvidia-t4", "--state-dir", directory.path, file, "--metrics", metrics,
        ])
        #expect(result.code == 1)
        let text = try String(contentsOfFile: metrics, encoding: .utf8)
        #expect(!text.contains("forbc_drift{"))
        #expect(text.contains("forbc_drift_check_success{host=\"\",manifest=\"\(file)\"} 0\n"))
    }
}
