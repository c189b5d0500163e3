import ForbcTestSupport
import Foundation
import Testing

/// `FORBC_ROOT`, `FORBC_STATE_DIR` and `FORBC_LIBVIRT_URI` stand in for their flags; a flag wins over its variable.
@Suite("options from the environment")
struct EnvironmentTests {
    func forbc(_ arguments: [String], environment: [String: String]) throws -> ForbcBinary.Outcome {
        try ForbcBinary.run(arguments, environment: environment)
    }

    @Test("FORBC_STATE_DIR chooses the state dir; '--state-dir' overrides it")
    func stateDir() throws {
        let state = makeTemporaryDirectory("env-state")
        let other = makeTemporaryDirectory("env-other")
        defer {
            try? FileManager.default.removeItem(at: state)
            try? FileManager.default.removeItem(at: other)
        }
        let manifest = RepositoryPaths.manifest("mtty")
        let env = ["FORBC_STATE_DIR": state.path]
        #expect(
            try forbc(["apply", manifest, "--simulate", "mtty", "--yes", "--no-bench"], environment: env).code == 0)
        #expect(FileManager.default.fileExists(atPath: state.appendingPathComponent("simulated-host.json").path))
        #expect(try forbc(["drift", manifest, "--simulate", "mtty"], environment: env).code == 0)
        // The flag wins: the other state dir holds a fresh host, which drifts from the manifest.
        let flagged = try forbc(["drift", manifest, "--simulate", "mtty", "--state-dir", other.path], environment: env)
        #expect(flagged.code == 2)
        #expect(flagged.stderr.contains(other.path))
    }

    @Test("FORBC_ROOT is a root like '--root': it excludes '--simulate'")
    func root() throws {
        let outcome = try forbc(["discover", "--simulate", "mtty"], environment: ["FORBC_ROOT": "/tmp"])
        #expect(outcome.code == 1)
        #expect(outcome.stderr.contains("'--root' and '--simulate' exclude each other"))
    }

    @Test("FORBC_LIBVIRT_URI is the libvirt URI a manifest with VMs connects to")
    func libvirtURI() throws {
        let state = makeTemporaryDirectory("env-uri")
        defer { try? FileManager.default.removeItem(at: state) }
        let uri = "test://" + state.appendingPathComponent("absent.xml").path
        let outcome = try forbc(
            ["plan", RepositoryPaths.manifest("quickstart"), "--simulate", "nvidia-t4", "--state-dir", state.path],
            environment: ["FORBC_LIBVIRT_URI": uri])
        #expect(outcome.code == 1)
        #expect(outcome.stderr.contains("absent.xml"))
    }
}
