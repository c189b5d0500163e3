import ForbcBench
import ForbcCore
import ForbcSimulator
import ForbcTestSupport
import Foundation
import Testing

/// A scripted guest agent whose file commands fail on demand, as libvirt's do while the domain's agent is busy
/// with another command: the first `goFailures` writes of a `go` file, and the first `readyFailures` reads of a
/// `ready` file, throw `error`; the first `lostAnswers` writes of a `go` file are carried out and then throw (an
/// answer lost after the agent did it); everything else is the scripted agent's.
final class FlakyAgent: GuestAgentChannel, Sendable {
    let inner: ScriptedGuestAgent
    let error: ForbcError
    let left: Locked<(go: Int, ready: Int, lost: Int)>

    init(
        _ inner: ScriptedGuestAgent, error: ForbcError, goFailures: Int = 0, readyFailures: Int = 0,
        lostAnswers: Int = 0
    ) {
        self.inner = inner
        self.error = error
        left = Locked((goFailures, readyFailures, lostAnswers))
    }

    /// Whether this call fails (and one failure fewer is left).
    func fails(_ which: WritableKeyPath<(go: Int, ready: Int, lost: Int), Int>) -> Bool {
        var fails = false
        left.update {
            fails = $0[keyPath: which] > 0
            if fails { $0[keyPath: which] -= 1 }
        }
        return fails
    }

    func exec(domain: String, _ arguments: [String], environment: [String: String], timeout: Double) throws
        -> GuestExit
    {
        try inner.exec(domain: domain, arguments, environment: environment, timeout: timeout)
    }

    func writeFile(domain: String, path: String, contents: Data) throws {
        if path.hasSuffix("/go") && fails(\.go) { throw error }
        try inner.writeFile(domain: domain, path: path, contents: contents)
        if path.hasSuffix("/go") && fails(\.lost) { throw error }
    }

    func readFile(domain: String, path: String) throws -> Data? {
        if path.hasSuffix("/ready") && fails(\.ready) { throw error }
        return try inner.readFile(domain: domain, path: path)
    }
}

/// Co-tenants in a guest whose agent fails now and then: `go` written again until it is, `ready` read again with
/// its failures reported, and a `go` that cannot be written reported at once and its tenants stopped.
@Suite("co-tenants' release through a failing guest agent")
struct ReleaseFailureTests {
    static let good = "{\"metric\": \"score\", \"value\": 5}\n"
    /// libvirt's words while another command holds the domain's agent.
    static let busy = ForbcError(
        .hypervisor,
        "libvirt: virDomainQemuAgentCommand('worker-1', guest-file-open) failed: Guest agent is not responding: "
            + "Guest agent not available for now")
    static let lock = ForbcError(
        .hypervisor,
        "libvirt: virDomainQemuAgentCommand('worker-1', guest-file-open) failed: Timed out during operation: cannot "
            + "acquire state change lock (held by monitor=remoteDispatchDomainQemuAgentCommand)")

    /// A flaky agent in front of worker-1, where python3 prints `good`.
    static func flaky(_ error: ForbcError, goFailures: Int = 0, readyFailures: Int = 0, lostAnswers: Int = 0)
        -> FlakyAgent
    {
        FlakyAgent(
            ScriptedGuestAgent(["worker-1": .running(["python3": .init(output: good)])]), error: error,
            goFailures: goFailures, readyFailures: readyFailures, lostAnswers: lostAnswers)
    }

    /// Every tenant was released and measured.
    static func expectReleased(_ results: [BenchResult]) {
        #expect(results.allSatisfy { $0.status == "ok" }, "\(results.compactMap(\.failure))")
    }

    /// Two tenants of the fixture `good` (timeout `timeout`) in worker-1 through `agent`; the results, the
    /// progress lines and the scripted agent's commands.
    func run(
        _ agent: FlakyAgent, timeout: Double = 2, goDeadline: Double = 30,
        suite: String = "{suite: pair, vms: [worker-1], workloads: [good], repetitions: 1, tenants: 2}"
    ) throws -> (results: [BenchResult], progress: [String], record: [String: Any]) {
        let fixture = try SimulatedHostFixture(profile: "nvidia-t4")
        let manifest = try fixture.benchmarks(suite)
        // worker-3 is shut off in the fixture; here it runs (a second guest).
        var inventory = try fixture.inventory(domains: true)
        let third = try #require(inventory.domains?.firstIndex { $0.name == "worker-3" })
        inventory.domains?[third].state = .running
        var options = BenchRunner.Options()
        options.launches = 1
        options.maxLaunches = 1
        options.window = 0.01
        options.goDeadline = goDeadline
        var profiles = try WorkloadProfile.loadAll(in: RepositoryPaths.fixture("workloads"))
        profiles["good"]?.0.timeout = timeout
        let runner = BenchRunner(profiles: profiles, options: options, agent: agent)
        let lines = Locked([String]())
        let results = try runner.run(
            manifest: manifest, plan: try fixture.plan(manifest), inventory: inventory,
            topology: "t", logs: makeTemporaryDirectory("flaky-logs"),
            progress: { line in lines.update { $0.append(line) } })
        let logs = try JSONDecoder().decode([String].self, from: Data(try #require(results.first).logs.utf8))
        let path = try #require(logs.first { $0.hasSuffix(".json") && $0.contains("/release-") })
        let record = try JSONSerialization.jsonObject(with: try Data(contentsOf: URL(fileURLWithPath: path)))
        return (results, lines.value, try #require(record as? [String: Any]))
    }

    @Test("a 'go' the agent refuses once is written at the next try: the tenants are released, a note says so")
    func goRetried() throws {
        let (results, progress, record) = try run(Self.flaky(Self.busy, goFailures: 1))
        Self.expectReleased(results)
        let notes = record["notes"] as? [String] ?? []
        #expect(
            notes.contains {
                $0.hasPrefix("'go' in 'worker-1' was written at try 2, ")
                    && $0.hasSuffix(" s after the first failed: \(Self.busy.message)")
            }, "\(notes)")
        #expect(progress.contains { $0.hasPrefix("t: good launch 1: release: waiting for 2 tenant(s) to be ready") })
        #expect(progress.contains { $0.contains("release: after ") && $0.contains("'go' written in 'worker-1'") })
    }

    @Test("a 'go' the agent wrote but whose answer was lost is read back: written at the first try, no retry")
    func goAnswerLost() throws {
        let (results, _, record) = try run(Self.flaky(Self.busy, lostAnswers: 1))
        Self.expectReleased(results)
        let notes = record["notes"] as? [String] ?? []
        #expect(!notes.contains { $0.contains("'go' in 'worker-1'") }, "\(notes)")
    }

    @Test("tenants in two guests: those whose 'go' was refused and written later fail; their window is not theirs")
    func lateLocation() throws {
        let inner = ScriptedGuestAgent([
            "worker-1": .running(["python3": .init(output: Self.good)]),
            "worker-3": .running(["python3": .init(output: Self.good)]),
        ])
        let (results, _, record) = try run(
            FlakyAgent(inner, error: Self.busy, goFailures: 1),
            suite: "{suite: pair, vms: [worker-1, worker-3], workloads: [good], repetitions: 1}")
        let late = try #require(results.first { $0.tenant == "worker-1" })
        #expect(late.status == "failed")
        #expect(late.failure?.contains("s after its co-tenants elsewhere (the guest agent refused it until") == true)
        let onTime = try #require(results.first { $0.tenant == "worker-3" })
        #expect(onTime.status == "ok", "\(onTime.failure ?? "")")
        let notes = record["notes"] as? [String] ?? []
        #expect(notes.contains { $0.hasPrefix("'worker-1' was released ") && $0.hasSuffix(" s late") }, "\(notes)")
    }

    @Test("reads of 'ready' that fail are counted, the first reported at once; the tenants are still released")
    func readyReadFails() throws {
        let (results, progress, record) = try run(Self.flaky(Self.lock, readyFailures: 3))
        Self.expectReleased(results)
        let first = try #require(progress.first { $0.contains("/ready in 'worker-1' failed: ") }, "\(progress)")
        #expect(first.hasSuffix("failed: \(Self.lock.message); looking again every 0.25 s while it fails"))
        #expect(first.hasPrefix("t: good launch 1: release: reading /tmp/forbc-"))
        let notes = record["notes"] as? [String] ?? []
        #expect(notes.contains { $0.hasPrefix("3 read(s) of 'ready' failed; the first: reading /tmp/forbc-") })
        #expect((record["ready"] as? [Any])?.count == 2 && (record["seen"] as? [Any])?.count == 2)
    }

    @Test("a 'go' that is never written: reported at once with its path and libvirt's words, its tenants stopped")
    func goNeverWritten() throws {
        let agent = Self.flaky(Self.busy, goFailures: 1000)
        let inner = agent.inner
        let (results, progress, record) = try run(agent, timeout: 1, goDeadline: 0.3)
        #expect(results.allSatisfy { $0.status == "failed" })
        // The account comes on its own line as soon as forbc gives up, before the launch's summary.
        let given = try #require(progress.firstIndex { $0.contains("release: writing 'go' (/tmp/forbc-") })
        let summary = try #require(progress.firstIndex { $0.hasPrefix("t: good launch 1, 2 tenant(s)") })
        #expect(given < summary)
        let line = progress[given]
        #expect(line.contains("/release/pair-good-0/go) in 'worker-1' failed "), "\(line)")
        #expect(line.contains(" s, the last: \(Self.busy.message); "), "\(line)")
        // The scripted guest has no pkill: forbc says so, and that the tenants end at their own wait's end.
        #expect(line.hasSuffix("; they end by themselves when their wait for 'go' ends ('{sync_timeout}')"), "\(line)")
        let pkill = inner.commands.filter { $0.hasPrefix("worker-1: guest-exec pkill -KILL -f /tmp/forbc-") }
        #expect(pkill.count == 1 && pkill[0].hasSuffix("/release/pair-good-0( |$)"), "\(inner.commands)")
        #expect(
            (record["notes"] as? [String] ?? []).contains(String(line.dropFirst("t: good launch 1: release: ".count))))
    }
}

/// What a release that waits says while it waits.
@Suite("a waiting release's progress")
struct ReleaseProgressTests {
    @Test("a line when the wait starts, one now and then naming who is ready and who is not, one at 'go'")
    func linesWhileWaiting() throws {
        let good = "{\"metric\": \"score\", \"value\": 5}\n"
        let processes = ScriptedProcesses(
            ["python3": .init(output: good)],
            tenants: [1: .init(output: good, readyAfter: 1.5), 2: .init(exit: .exited(3), readyAfter: nil)])
        let manifest = try ManifestParser.parse(
            text: "apiVersion: forbc/v1\nkind: Host\nmetadata: {name: w}\nspec:\n  benchmarks:\n"
                + "    - {suite: s, workloads: [good], repetitions: 1, tenants: 3}\n", file: "w.yaml")
        var options = BenchRunner.Options()
        options.launches = 1
        options.maxLaunches = 1
        options.window = 0.01
        options.releaseProgressEvery = 0.1
        let folder = RepositoryPaths.fixture("workloads")
        let runner = BenchRunner(
            profiles: ["good": (try WorkloadProfile.load("\(folder)/good.yaml"), folder)], options: options,
            processes: processes)
        let lines = Locked([String]())
        _ = try runner.run(
            manifest: manifest, plan: Plan(host: "w", simulated: false, actions: [], partitions: [], prune: .managed),
            inventory: Inventory(), topology: "t", logs: makeTemporaryDirectory("release-progress"),
            progress: { line in lines.update { $0.append(line) } })
        let progress = lines.value
        #expect(progress.first == "t: good launch 1: release: waiting for 3 tenant(s) to be ready, 30 s at most")
        // host#1 gets ready 1.5 s in: lines every 0.1 s until then; host#2 ended at once.
        #expect(progress.contains { $0.hasSuffix("; not yet: host#1; ended: host#2") }, "\(progress)")
        let go = try #require(progress.firstIndex { $0.hasPrefix("t: good launch 1: release: after ") })
        #expect(progress[go].hasSuffix(" s (2 of 3 ready), 'go' written in the host"), "\(progress[go])")
        #expect(progress[(go + 1)...].allSatisfy { !$0.contains("release: waiting") })
    }
}

/// The workloads' side: common.py's wait for `go` ends at forbc's `{sync_timeout}`.
@Suite("the workloads' wait for 'go'")
struct WorkloadReleaseWaitTests {
    static let workloads = RepositoryPaths.root.appendingPathComponent("Manifests/workloads").path

    @Test("every shipped profile with '{sync}' passes '{sync_timeout}', which forbc fills with timeout + retries")
    func everyProfilePassesIt() throws {
        let profiles = try WorkloadProfile.loadAll(in: Self.workloads)
        for (name, (profile, _)) in profiles where profile.usesRelease {
            #expect(profile.run.contains("{sync_timeout}"), "\(name)")
        }
        let (gemm, _) = try #require(profiles["cpu-gemm"])
        let processes = ScriptedProcesses(["python3": .init(output: "{\"metric\": \"gflops\", \"value\": 5}\n")])
        var options = BenchRunner.Options()
        options.launches = 1
        options.maxLaunches = 1
        options.window = 0.01
        options.goDeadline = 7
        let manifest = try ManifestParser.parse(
            text: "apiVersion: forbc/v1\nkind: Host\nmetadata: {name: w}\nspec:\n  benchmarks:\n"
                + "    - {suite: s, workloads: [cpu-gemm], repetitions: 1, tenants: 2}\n", file: "w.yaml")
        let runner = BenchRunner(profiles: ["cpu-gemm": (gemm, Self.workloads)], options: options, processes: processes)
        _ = try runner.run(
            manifest: manifest, plan: Plan(host: "w", simulated: false, actions: [], partitions: [], prune: .managed),
            inventory: Inventory(), topology: nil, logs: makeTemporaryDirectory("sync-timeout"))
        let expected = String(format: "%.3f", gemm.timeout + 7)
        #expect(processes.calls.count == 2)
        for call in processes.calls {
            let at = try #require(call.arguments.firstIndex(of: "--sync-timeout"))
            #expect(call.arguments[at + 1] == expected)
        }
    }

    @Test("common.py gives up after --sync-timeout with no 'go': non-zero, in its words, its 'ready' line written")
    func givesUp() throws {
        let folder = makeTemporaryDirectory("no-go")
        let sync = folder.appendingPathComponent("sync").path
        let log = folder.appendingPathComponent("wait.log")
        let code = "import sys; sys.path.insert(0, sys.argv[1]); import common; common.start(common.args(sys.argv[2:]))"
        let exit = RealProcesses().run(
            ["python3", "-c", code, Self.workloads, "--sync", sync, "--tenant", "3", "--sync-timeout", "0.2"],
            environment: [:], log: log, timeout: 120)
        let output = try String(contentsOf: log, encoding: .utf8)
        #expect(exit == .exited(1), "\(output)")
        #expect(output.contains("forbc did not release the tenants: no \(sync)/go after 0.2 s"), "\(output)")
        let ready = try String(contentsOfFile: "\(sync)/ready", encoding: .utf8)
        #expect(ready.hasPrefix("3 ") && ready.hasSuffix("\n"))
    }
}
