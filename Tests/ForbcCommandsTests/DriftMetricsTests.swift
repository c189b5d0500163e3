import ForbcCore
import ForbcTestSupport
import Foundation
import Testing

/// The drift metrics the alert rules (Manifests/prometheus/forbc-alerts.yml) read, as node_exporter would.
@Suite("drift metrics for the alert rules")
struct DriftMetricsTests {
    @Test(
        "a check that fails after reading the manifest keeps the host and manifest labels")
    func failedCheckKeepsLabels() throws {
        let cli = CLI()
        let manifest = RepositoryPaths.manifest("mtty")
        let metrics = cli.stateDir.appendingPathComponent("forbc.prom").path
        #expect(cli.sim("mtty", "apply", [manifest]).code == 0)
        #expect(cli.sim("mtty", "drift", [manifest, "--metrics", metrics]).code == 0)
        let labels = "host=\"mtty-lab\",manifest=\"\(manifest)\""
        let good = try String(contentsOfFile: metrics, encoding: .utf8)
        #expect(good.contains("forbc_drift_check_success{\(labels)} 1\n"))

        // The host cannot be read: exit 1, and the same series say so, with no drift series left to mislead.
        try Data("not a host".utf8).write(to: cli.stateDir.appendingPathComponent("simulated-host.json"))
        #expect(cli.sim("mtty", "drift", [manifest, "--metrics", metrics]).code == 1)
        let failed = try String(contentsOfFile: metrics, encoding: .utf8)
        #expect(failed.contains("forbc_drift_check_success{\(labels)} 0\n"))
        #expect(failed.contains("forbc_drift_check_timestamp_seconds{\(labels)} "))
        #expect(!failed.contains("forbc_drift{"))
    }

    @Test("the metrics file is readable by node_exporter's user (0644) even under umask 077")
    func readableUnderUmask() throws {
        let state = makeTemporaryDirectory("metrics-umask")
        let metrics = state.appendingPathComponent("forbc.prom").path
        let manifest = RepositoryPaths.manifest("mtty")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = [
            "-c", #"umask 077 && exec "$0" "$@""#, ForbcBinary.path, "drift", "--simulate", "mtty", "--state-dir",
            state.path, manifest, "--metrics", metrics,
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 2, "a fresh simulated host lacks the manifest's partitions")
        let mode = try FileManager.default.attributesOfItem(atPath: metrics)[.posixPermissions] as? Int
        #expect(mode == 0o644, "mode \(String(mode ?? 0, radix: 8))")
        try? FileManager.default.removeItem(at: state)
    }

    @Test("a metrics file that cannot be written is an error naming it (exit 1)")
    func unwritable() {
        let cli = CLI()
        let result = cli.sim(
            "mtty", "drift", [RepositoryPaths.manifest("mtty"), "--metrics", "/nonexistent/forbc.prom"])
        #expect(result.code == 1)
        #expect(
            result.stderr.hasSuffix(
                "error: writing metrics to /nonexistent/forbc.prom failed: no such file or directory (ENOENT); check "
                    + "that its directory exists and is writable\n"), "\(result.stderr)")
    }
}
