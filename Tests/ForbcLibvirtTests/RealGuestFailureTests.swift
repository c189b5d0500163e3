import ForbcBench
import ForbcCore
import ForbcLibvirt
import ForbcTestSupport
import Foundation
import Testing

/// `forbc bench run` of one suite across the real guest (FORBC_AGENT_DOMAIN), a running domain whose agent never
/// answers and a shut-off domain, with a workload that hangs: each failure is recorded in libvirt's or forbc's
/// words, and the guest's good result is measured and stored beside them.
@Suite(
    "a suite where some real domains fail, through the forbc binary",
    .enabled(
        if: ProcessInfo.processInfo.environment["FORBC_AGENT_DOMAIN"] != nil,
        "FORBC_AGENT_DOMAIN is not set: run the README's test command (bash .ci/test), which boots the guest"))
struct RealGuestFailureTests {
    let uri = ProcessInfo.processInfo.environment["FORBC_LIBVIRTD_URI"] ?? "qemu:///system"
    let domain = ProcessInfo.processInfo.environment["FORBC_AGENT_DOMAIN"] ?? "forbc-agent-guest"

    /// RealGuestBenchTests' folder (cpu-gemm at a small size) and `stall`: `sleep 600` with a 5 s timeout.
    func workloads() throws -> URL {
        let folder = try RealGuestBenchTests().workloads()
        try """
        name: stall
        version: 1
        description: never ends (a workload that hangs in the guest)
        bound: host
        run: [sleep, "600"]
        parse: json-lines
        metrics:
          - {name: score, unit: points, better: higher}
        timeout: 5
        """.write(to: folder.appendingPathComponent("stall.yaml"), atomically: true, encoding: .utf8)
        return folder
    }

    /// Defines `name` afresh (RealGuestTests' domain with nothing to boot and an agent channel), started or not.
    func silentDomain(_ name: String, start: Bool) throws {
        let admin = try LibvirtConnection(uri: uri)
        if (try? admin.domain(named: name)) != nil {
            _ = try? virsh("destroy", name)
            try admin.undefine(name)
        }
        try admin.define(RealGuestTests.silentXML(name, channel: true))
        if start { #expect(try virsh("start", name) == 0) }
    }

    func virsh(_ arguments: String...) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["virsh", "-q", "-c", uri] + arguments
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    @Test("an agent that never answers, a hang in the guest, a domain shut off: recorded; the guest's result stored")
    func mixedSuite() throws {
        let (mute, down) = ("\(domain)-mute", "\(domain)-down")
        try silentDomain(mute, start: true)
        try silentDomain(down, start: false)
        defer {
            for name in [mute, down] {
                _ = try? virsh("destroy", name)
                _ = try? virsh("undefine", name)
            }
        }
        let folder = try workloads()
        let manifest = folder.deletingLastPathComponent().appendingPathComponent("mixed.yaml").path
        try """
        apiVersion: forbc/v1
        kind: Host
        metadata: {name: guest-failures}
        spec:
          benchmarks:
            - {suite: mixed, vms: [\(domain), \(mute), \(down)], workloads: [cpu-gemm, stall], repetitions: 3}
        """.write(toFile: manifest, atomically: true, encoding: .utf8)
        let state = folder.deletingLastPathComponent().appendingPathComponent("state").path
        let (status, output) = try RealGuestBenchTests().forbc(
            [
                "bench", "run", manifest, "--launches", "1", "--max-launches", "1", "--state-dir", state, "--libvirt",
                uri,
            ])
        #expect(status == 1, "\(output)")
        let stored = try ResultStore(path: state + "/bench.sqlite").all()
        func row(_ workload: String, _ tenant: String) throws -> BenchResult {
            try #require(stored.first { $0.workload == workload && $0.tenant == tenant }, "\(workload) on \(tenant)")
        }
        let gemm = try row("cpu-gemm", domain)
        #expect(gemm.status == "ok" && gemm.valueList.count == 3, "\(gemm.failure ?? ""): \(output)")
        #expect(gemm.domain == domain && (gemm.domainVCPUs ?? 0) > 0 && (gemm.domainMemoryMiB ?? 0) > 0)
        let agentCall = "libvirt: virDomainQemuAgentCommand('\(mute)', guest-exec) failed: "
        let expected = [
            ("stall", domain, "timed out after 5 s"),
            ("cpu-gemm", mute, agentCall + "Guest agent is not responding: QEMU guest agent is not connected"),
            ("stall", mute, agentCall + "Guest agent is not responding: QEMU guest agent is not connected"),
            ("cpu-gemm", down, "domain '\(down)' is not running"),
            ("stall", down, "domain '\(down)' is not running"),
        ]
        for (workload, tenant, words) in expected {
            let failed = try row(workload, tenant)
            #expect(failed.status == "failed" && failed.valueList.isEmpty, "\(workload) on \(tenant)")
            #expect(failed.failure?.contains(words) == true, "\(workload) on \(tenant): \(failed.failure ?? "nil")")
            #expect(output.contains("on '\(tenant)' failed"), "\(output)")
        }
    }
}
