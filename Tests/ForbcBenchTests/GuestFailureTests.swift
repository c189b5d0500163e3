import ForbcBench
import ForbcCore
import ForbcSimulator
import ForbcTestSupport
import Foundation
import Testing

/// One suite across domains where some targets cannot measure: each failure is recorded with its own words, and
/// every other result of the suite is still measured and stored.
@Suite("a suite where some domains fail")
struct GuestFailureTests {
    /// A workload folder with `good` (python3, the fixture's) and `stall` (`sleep 600`, a 2 s timeout).
    func workloads() throws -> String {
        let folder = makeTemporaryDirectory("guest-failures")
        try FileManager.default.copyItem(
            atPath: RepositoryPaths.fixture("workloads/good.yaml"),
            toPath: folder.appendingPathComponent("good.yaml").path)
        try """
        name: stall
        version: 1
        description: never ends (for the runner's tests)
        bound: host
        run: [sleep, "600"]
        parse: json-lines
        metrics:
          - {name: score, unit: points, better: higher}
        timeout: 2
        """.write(to: folder.appendingPathComponent("stall.yaml"), atomically: true, encoding: .utf8)
        return folder.path
    }

    @Test("an agent that does not answer, a hang in the guest, a domain shut off: each recorded; the rest stored")
    func mixedSuite() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-t4")
        let manifest = try fixture.benchmarks(
            "{suite: mixed, vms: [worker-1, worker-2, worker-3], workloads: [good, stall], repetitions: 2}")
        // worker-1 runs with an agent (python3 answers, sleep never ends); worker-2 is shut off; worker-3 runs with
        // no agent behind its channel.
        var inventory = try fixture.inventory(domains: true)
        let third = try #require(inventory.domains?.firstIndex { $0.name == "worker-3" })
        inventory.domains?[third].state = .running
        let agent = ScriptedGuestAgent([
            "worker-1": .running([
                "python3": .init(output: "{\"metric\": \"score\", \"value\": 5}\n"), "sleep": .init(exit: .timedOut),
            ]),
            "worker-3": .noAgent,
        ])
        var options = BenchRunner.Options()
        options.launches = 2
        options.maxLaunches = 2
        let runner = BenchRunner(
            profiles: try WorkloadProfile.loadAll(in: try workloads()), options: options, agent: agent)
        let results = try runner.run(
            manifest: manifest, plan: try fixture.plan(manifest), inventory: inventory, topology: "guests",
            logs: makeTemporaryDirectory("guest-failure-logs"))
        let store = try ResultStore(
            path: makeTemporaryDirectory("guest-failure-store").appendingPathComponent("b.sqlite").path)
        #expect(try store.insert(results).inserted == results.count)
        let stored = try store.all()
        func row(_ workload: String, _ tenant: String) throws -> BenchResult {
            try #require(stored.first { $0.workload == workload && $0.tenant == tenant }, "\(workload) on \(tenant)")
        }
        let good = try row("good", "worker-1")
        #expect(good.status == "ok" && good.valueList == [5, 5], "\(good.failure ?? "")")
        #expect(good.domain == "worker-1" && good.domainVCPUs == 4 && good.domainMemoryMiB == 4096)
        let expected = [
            ("stall", "worker-1", "timed out after 2 s"),
            ("good", "worker-2", "domain 'worker-2' is not running"),
            ("stall", "worker-2", "domain 'worker-2' is not running"),
            ("good", "worker-3", "Guest agent is not responding: QEMU guest agent is not connected"),
            ("stall", "worker-3", "Guest agent is not responding: QEMU guest agent is not connected"),
        ]
        for (workload, tenant, words) in expected {
            let failed = try row(workload, tenant)
            #expect(failed.status == "failed" && failed.valueList.isEmpty, "\(workload) on \(tenant)")
            #expect(failed.failure?.contains(words) == true, "\(workload) on \(tenant): \(failed.failure ?? "nil")")
        }
    }

    @Test(
        "an agent that stops answering once the workload started: the run ends, says where and why, asks once more"
    )
    func agentStopsAnswering() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-t4")
        let manifest = try fixture.benchmarks("{suite: silent, vms: [worker-1], workloads: [good], repetitions: 2}")
        let agent = ScriptedGuestAgent([
            "worker-1": .stopsAnswering(
                once: "python3", ["python3": .init(output: "{\"metric\": \"score\", \"value\": 5}\n")])
        ])
        var options = BenchRunner.Options()
        options.launches = 3
        options.maxLaunches = 3
        let lines = Locked([String]())
        let runner = BenchRunner(
            profiles: try WorkloadProfile.loadAll(in: try workloads()), options: options, agent: agent)
        let results = try runner.run(
            manifest: manifest, plan: try fixture.plan(manifest), inventory: try fixture.inventory(domains: true),
            topology: "guests", logs: makeTemporaryDirectory("silent-agent-logs")
        ) { line in lines.update { $0.append(line) } }
        let result = try #require(results.first, "\(results)")
        #expect(results.count == 1 && result.status == "failed" && result.valueList.isEmpty)
        let words =
            "libvirt: virDomainQemuAgentCommand('worker-1', guest-exec-status) failed: Guest agent is not responding: "
            + "Guest agent not available for now"
        #expect(result.failure == "launch 0: in domain 'worker-1': " + words, "\(result.failure ?? "nil")")
        // After the first command it did not answer: the run's folder's removal only (launches 2 and 3 run nothing).
        let commands = agent.commands
        let first = try #require(commands.firstIndex { $0.hasSuffix("(no answer)") }, "\(commands)")
        #expect(commands[first] == "worker-1: guest-exec-status python3 (no answer)")
        #expect(Array(commands[(first + 1)...]) == ["worker-1: guest-exec (no answer)"], "\(commands)")
        // Where the time went, as it happens: the failure, the launches not run, the folder left behind.
        let progress = lines.value
        #expect(
            progress.contains { $0.hasPrefix("guests: good launch 1: 'worker-1' failed after ") && $0.hasSuffix(words) }
        )
        #expect(
            progress.contains {
                $0.hasPrefix(
                    "guests: good launch 3: 'worker-1' failed after 0.0 s: not run: the guest agent of "
                        + "'worker-1' stopped answering earlier in this run: \(words)")
            }, "\(progress)")
        #expect(progress.contains { $0.hasPrefix("removing /tmp/forbc-") && $0.contains("from 'worker-1' failed") })
        // The next run tries again (its first launch), and stops there again.
        let again = try runner.run(
            manifest: manifest, plan: try fixture.plan(manifest), inventory: try fixture.inventory(domains: true),
            topology: "guests", logs: makeTemporaryDirectory("silent-agent-logs"))
        #expect(again.first?.failure?.hasPrefix("launch 0: copying the workload folder") == true, "\(again)")
        #expect(agent.commands.count == commands.count + 2, "\(agent.commands)")
    }
}
