import ForbcBench
import ForbcTestSupport
import Foundation
import Testing

/// `forbc bench run` end to end with a suite inside the real guest (FORBC_AGENT_DOMAIN, Tests/VM/guest) and the same
/// workload on the host, stored with the domain, then `bench compare` of the guest against the host.
@Suite(
    "benchmarks inside a real guest, through the forbc binary",
    .enabled(
        if: ProcessInfo.processInfo.environment["FORBC_AGENT_DOMAIN"] != nil,
        "FORBC_AGENT_DOMAIN is not set: run the README's test command (bash .ci/test), which boots the guest"))
struct RealGuestBenchTests {
    let uri = ProcessInfo.processInfo.environment["FORBC_LIBVIRTD_URI"] ?? "qemu:///system"
    let domain = ProcessInfo.processInfo.environment["FORBC_AGENT_DOMAIN"] ?? "forbc-agent-guest"

    /// A workload folder with cpu-gemm at a size TCG runs in well under a second a repetition.
    func workloads() throws -> URL {
        let folder = makeTemporaryDirectory("guest-bench").appendingPathComponent("workloads")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let source = RepositoryPaths.root.appendingPathComponent("Manifests/workloads")
        for file in ["common.py", "cpu_gemm.py"] {
            try FileManager.default.copyItem(
                at: source.appendingPathComponent(file), to: folder.appendingPathComponent(file))
        }
        let profile = try String(contentsOf: source.appendingPathComponent("cpu-gemm.yaml"), encoding: .utf8)
            .replacingOccurrences(of: "--window, \"{window}\"]", with: "--window, \"{window}\", --size, \"192\"]")
        try profile.write(to: folder.appendingPathComponent("cpu-gemm.yaml"), atomically: true, encoding: .utf8)
        return folder
    }

    func forbc(_ arguments: [String]) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = RepositoryPaths.root.appendingPathComponent(".build/debug/forbc")
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, output)
    }

    @Test("host and guest suites run, the guest's results carry the domain, and compare gives the guest's ratio")
    func hostAndGuest() throws {
        let folder = try workloads()
        let manifest = folder.deletingLastPathComponent().appendingPathComponent("guest.yaml").path
        try """
        apiVersion: forbc/v1
        kind: Host
        metadata: {name: guest-bench}
        spec:
          benchmarks:
            - {suite: host, workloads: [cpu-gemm], repetitions: 3}
            - {suite: guest, vms: [\(domain)], workloads: [cpu-gemm], repetitions: 3}
        """.write(toFile: manifest, atomically: true, encoding: .utf8)
        let state = folder.deletingLastPathComponent().appendingPathComponent("state").path
        let common = ["--state-dir", state, "--libvirt", uri]
        let (ran, output) = try forbc(["bench", "run", manifest, "--launches", "2", "--max-launches", "2"] + common)
        #expect(ran == 0, "\(output)")
        let results = try ResultStore(path: state + "/bench.sqlite").all()
        let guest = results.filter { $0.topology == "guest-bench/guest" }
        #expect(!guest.isEmpty && guest.allSatisfy { $0.status == "ok" && $0.domain == domain }, "\(output)")
        #expect(guest.allSatisfy { ($0.domainVCPUs ?? 0) > 0 && ($0.domainMemoryMiB ?? 0) > 0 })
        #expect(results.filter { $0.topology == "guest-bench/host" }.allSatisfy { $0.domain == nil })
        let (compared, table) = try forbc(["bench", "compare", "--baseline", "guest-bench/host"] + common)
        #expect(compared == 0, "\(table)")
        #expect(table.contains("guest-bench/guest"), "\(table)")
    }
}
