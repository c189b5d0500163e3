import ForbcBench
import ForbcCore
import ForbcLibvirt
import ForbcTestSupport
import Foundation
import Testing

/// Against the real guest (Tests/VM/guest): files read back through the agent, and co-tenants inside the guest run
/// by `forbc bench run` from forbc's copy of the workload folder, released together through the agent.
@Suite(
    "co-tenants inside a real guest, from a copied workload folder",
    .serialized,
    .enabled(
        if: ProcessInfo.processInfo.environment["FORBC_AGENT_DOMAIN"] != nil,
        "FORBC_AGENT_DOMAIN is not set: run the README's test command (bash .ci/test), which boots the guest"))
struct RealGuestReleaseTests {
    let uri = ProcessInfo.processInfo.environment["FORBC_LIBVIRTD_URI"] ?? "qemu:///system"
    let domain = ProcessInfo.processInfo.environment["FORBC_AGENT_DOMAIN"] ?? "forbc-agent-guest"

    @Test("a file read through the agent (several guest-file-read chunks) is what was written; a missing one is nil")
    func readBack() throws {
        let agent = try LibvirtConnection(uri: uri)
        let path = "/tmp/forbc-read-\(UUID().uuidString.prefix(8)).txt"
        #expect(try agent.readFile(domain: domain, path: path) == nil)
        let text = Data((0..<3000).map { "line \($0): ünïcode\n" }.joined().utf8)
        #expect(text.count > 60_000)
        try agent.writeFile(domain: domain, path: path, contents: text)
        #expect(try agent.readFile(domain: domain, path: path) == text)
        _ = try agent.exec(domain: domain, ["rm", "-f", path], environment: [:], timeout: 30)
    }

    /// A workload folder: the repository's common.py, and a workload that reports where its script is.
    func workloads() throws -> URL {
        let folder = makeTemporaryDirectory("guest-release").appendingPathComponent("workloads")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            at: RepositoryPaths.root.appendingPathComponent("Manifests/workloads/common.py"),
            to: folder.appendingPathComponent("common.py"))
        try """
        import os
        from common import args, report, seconds_per_step, start, window_times
        a = args()
        start(a)
        for rep in range(a.repetitions):
            seconds_per_step(lambda: sum(range(1000)), 10, a.window)
            report("here", 1.0, rep=rep, dir=os.path.dirname(os.path.abspath(__file__)), **window_times())
        """.write(to: folder.appendingPathComponent("where.py"), atomically: true, encoding: .utf8)
        try """
        name: where
        version: 1
        description: where the script runs from
        bound: host
        run: [python3, "{dir}/where.py", --repetitions, "{repetitions}", --sync, "{sync}", --tenant, "{tenant}", \
        --window, "{window}"]
        parse: json-lines
        metrics: [{name: here, unit: runs, better: higher}]
        timeout: 120
        """.write(to: folder.appendingPathComponent("where.yaml"), atomically: true, encoding: .utf8)
        return folder
    }

    @Test("two tenants in the guest run forbc's copy of the folder, are released together, and their windows overlap")
    func releasedInGuest() throws {
        let folder = try workloads()
        let manifest = folder.deletingLastPathComponent().appendingPathComponent("release.yaml").path
        try """
        apiVersion: forbc/v1
        kind: Host
        metadata: {name: guest-release}
        spec:
          benchmarks:
            - {suite: pair, vms: [\(domain)], workloads: [where], repetitions: 2, tenants: 2}
        """.write(toFile: manifest, atomically: true, encoding: .utf8)
        let state = folder.deletingLastPathComponent().appendingPathComponent("state").path
        let process = Process()
        process.executableURL = RepositoryPaths.root.appendingPathComponent(".build/debug/forbc")
        process.arguments = [
            "bench", "run", manifest, "--launches", "1", "--max-launches", "1", "--state-dir", state, "--libvirt", uri,
        ]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(output)")
        let tenants = try ResultStore(path: state + "/bench.sqlite").all().filter { $0.tenant != "(aggregate)" }
        #expect(tenants.count == 2 && tenants.allSatisfy { $0.status == "ok" && $0.domain == domain }, "\(output)")
        var windows: [[String: Any]] = []
        for tenant in tenants {
            let logs = try JSONDecoder().decode([String].self, from: Data(tenant.logs.utf8))
            let log = try String(contentsOfFile: try #require(logs.first { $0.hasSuffix(".log") }), encoding: .utf8)
            let lines = log.split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
            // The script ran from the run's copy in the guest, not from the host's folder (which the test guest
            // could also see through its shared root).
            #expect(lines.contains { ($0["dir"] as? String)?.hasPrefix("/tmp/forbc-") == true }, "\(log)")
            windows += lines.filter { ($0["rep"] as? Int) == 0 }
            let record = try #require(logs.first { $0.hasSuffix(".json") })
            let release = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: record)))
            #expect((release as? [String: Any])?["notes"] as? [String] == [], "\(release)")
            print("release in '\(domain)': \(release)")
        }
        let start = windows.compactMap { $0["start"] as? Double }.max() ?? 1
        let end = windows.compactMap { $0["end"] as? Double }.min() ?? 0
        #expect(windows.count == 2 && start < end, "\(windows)")
        print(String(format: "guest co-tenants' first windows overlap %.3f s", end - start))
    }
}
