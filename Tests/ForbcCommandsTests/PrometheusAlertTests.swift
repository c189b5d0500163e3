import ForbcCore
import ForbcSimulator
import ForbcTestSupport
import Foundation
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// The shipped alert rules (Manifests/prometheus/forbc-alerts.yml): checked and unit-tested by promtool, and loaded
/// into a real Prometheus that scrapes a real node_exporter's textfile collector, where forbc's drift metrics of a
/// simulated host make the drift alert fire. Debian's prometheus and prometheus-node-exporter packages give the
/// tools (the README's test command installs them); the daemons run on loopback, never as the system's services.
@Suite(
    "Prometheus alerts on forbc's drift metrics",
    .enabled(
        if: PrometheusTools.found,
        Comment(
            rawValue: "promtool, prometheus or prometheus-node-exporter is not on PATH: install Debian's prometheus "
                + "and prometheus-node-exporter packages (bash .ci/test does)")))
struct PrometheusAlertTests {
    static let rules = RepositoryPaths.root.appendingPathComponent("Manifests/prometheus/forbc-alerts.yml").path
    static let unitTests = RepositoryPaths.root.appendingPathComponent("Tests/Prometheus/forbc-alerts.test.yml").path

    @Test("promtool checks the rules and passes their unit tests")
    func promtool() throws {
        let check = try PrometheusTools.run(PrometheusTools.promtool!, ["check", "rules", Self.rules])
        #expect(check.code == 0, "promtool check rules: \(check.output)")
        #expect(check.output.contains("SUCCESS: 5 rules found"), "\(check.output)")
        let unit = try PrometheusTools.run(PrometheusTools.promtool!, ["test", "rules", Self.unitTests])
        #expect(unit.code == 0, "promtool test rules: \(unit.output)")
    }

    @Test("a partition removed behind forbc's back makes ForbcDrift fire; a host it cannot read, the check alert")
    func driftAlertFires() async throws {
        let directory = makeTemporaryDirectory("forbc-prometheus")
        let stack = try PrometheusStack(directory: directory, rules: Self.rules)
        defer { stack.stop() }
        let manifest = RepositoryPaths.manifest("mtty")
        let state = directory.appendingPathComponent("state").path
        let metrics = stack.textfiles.appendingPathComponent("forbc.prom").path
        let drift = ["drift", "--simulate", "mtty", "--state-dir", state, manifest, "--metrics", metrics]
        #expect(try ForbcBinary.run(["apply", "--simulate", "mtty", "--state-dir", state, manifest]).code == 0)
        #expect(try ForbcBinary.run(drift).code == 0)

        // Converged: once the rules have been evaluated four times with forbc's metrics (past the 2 s `for:`),
        // no forbc alert is pending or firing.
        try await stack.waitForEvaluations(4)
        let converged = try await stack.api.query(#"ALERTS{alertname=~"Forbc.*"}"#)
        #expect(converged.isEmpty, "alerts on a converged host: \(converged)")

        // Someone removes 'dual' behind forbc's back; the next drift check finds it missing.
        let kernelURL = URL(fileURLWithPath: state).appendingPathComponent("simulated-host.json")
        let kernel = try SimulatedKernel.load(from: kernelURL)
        try kernel.write(SysPath.mdev(UUIDv5.partition(host: "mtty-lab", name: "dual"), "remove"), "1")
        try kernel.save(to: kernelURL)
        #expect(try ForbcBinary.run(drift).code == 2)
        let fired = try await stack.waitForFiring("ForbcDrift", metrics: metrics)
        #expect(fired?["host"] == "mtty-lab")
        #expect(fired?["manifest"] == manifest)
        #expect(fired?["severity"] == "warning")

        // The simulated host becomes unreadable: the check fails (exit 1) under the same host and manifest labels.
        try Data("not a host".utf8).write(to: kernelURL)
        #expect(try ForbcBinary.run(drift).code == 1)
        let failing = try await stack.waitForFiring("ForbcDriftCheckFailing", metrics: metrics)
        #expect(failing?["host"] == "mtty-lab")
        try? FileManager.default.removeItem(at: directory)
    }
}

/// Where Debian's packages put the tools, found on PATH.
enum PrometheusTools {
    static let promtool = find("promtool")
    static let prometheus = find("prometheus")
    static let nodeExporter = find("prometheus-node-exporter") ?? find("node_exporter")
    static let found = promtool != nil && prometheus != nil && nodeExporter != nil

    static func find(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(name)" }.first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
    }

    /// Runs a tool to its end; its standard output and error together.
    static func run(_ tool: String, _ arguments: [String]) throws -> (code: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// A TCP port on 127.0.0.1 that nothing listens on now (the kernel's choice for port 0).
    static func freePort() throws -> Int {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0
            }
        }
        try #require(socket >= 0 && bound, "no free port on 127.0.0.1: errno \(errno)")
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
