import ForbcBench
import ForbcCore
import ForbcSimulator
import ForbcTestSupport
import Foundation
import Testing

@Suite("benchmark runner")
struct RunnerTests {
    static let fixtures = RepositoryPaths.fixture("workloads")

    func profile(_ name: String) throws -> WorkloadProfile { try WorkloadProfile.load("\(Self.fixtures)/\(name).yaml") }

    @Test("JSON lines and regex output are parsed; chatter is ignored")
    func parsing() throws {
        let good = try profile("good")
        #expect(
            try OutputParser.parse(
                "{\"metric\": \"score\", \"value\": 3}\nhello\n{\"metric\": \"other\", \"value\": 9}\n{\"metric\": "
                    + "\"score\", \"value\": 4.5}",
                profile: good) == ["score": [3, 4.5]])
        #expect(
            try OutputParser.parse("Result: 1.5 things/s\nResult: 2 things/s", profile: try profile("regex")) == [
                "rate": [1.5, 2]
            ])
        for bad in ["", "garbage", "{\"metric\": \"score\", \"value\": \"NaN\"}", "{\"metric\": \"score\"}", "[1]"] {
            #expect(throws: ForbcError.self) { try OutputParser.parse(bad, profile: good) }
        }
    }

    @Test(
        "a workload that crashes, hangs, prints garbage or nothing is recorded as failed with its log",
        arguments: [
            ("crash", "exited with status 3; see its log"), ("hang", "timed out after 2 s"),
            ("garbage", "no measurements of 'score' in the output"),
            ("nothing", "no measurements of 'score' in the output"),
        ])
    func failures(name: String, reason: String) throws {
        let log = makeTemporaryDirectory("log").appendingPathComponent("\(name).log")
        let outcome = WorkloadRunner().run(
            try profile(name), directory: Self.fixtures, environment: [:], repetitions: 1, warmups: 0,
            startAt: 0, log: log)
        #expect(outcome.failure == reason)
        #expect(outcome.values.isEmpty)
        #expect(FileManager.default.fileExists(atPath: outcome.log))
        if name == "garbage" {
            #expect(try String(contentsOfFile: outcome.log, encoding: .utf8).contains("score: lots"))
        }
    }

    @Test("a profile whose 'run' is a shell string is refused")
    func argumentVector() throws {
        let path = makeTemporaryDirectory("profile").appendingPathComponent("shell.yaml").path
        let text =
            "name: shell\nversion: 1\ndescription: x\nbound: host\nrun: [\"python3 train.py --epochs 3\"]\nparse: "
            + "json-lines\nmetrics: [{name: s, unit: u, better: higher}]\ntimeout: 5\n"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: ForbcError.self) { try WorkloadProfile.load(path) }
    }

    @Test("a suite with failing and good workloads goes on, records each, and stores them")
    func suiteGoesOn() throws {
        let manifest = try ManifestParser.parse(
            text: """
                apiVersion: forbc/v1
                kind: Host
                metadata: {name: mixed}
                spec:
                  benchmarks:
                    - {suite: s, workloads: [crash, good, regex], repetitions: 1, tenants: 2}
                """, file: "mixed.yaml")
        var options = BenchRunner.Options()
        options.launches = 2
        options.maxLaunches = 2
        options.barrierDelay = 0.2
        let runner = BenchRunner(profiles: try WorkloadProfile.loadAll(in: Self.fixtures), options: options)
        let logs = makeTemporaryDirectory("logs")
        let plan = Plan(host: "mixed", simulated: false, actions: [], partitions: [], prune: .managed)
        let results = try runner.run(manifest: manifest, plan: plan, inventory: Inventory(), topology: nil, logs: logs)
        let crash = results.filter { $0.workload == "crash" }
        #expect(
            crash.count == 2
                && crash.allSatisfy {
                    $0.status == "failed" && $0.failure == "launch 0: exited with status 3; see its log"
                })
        let good = results.filter { $0.workload == "good" }
        #expect(good.map(\.tenant) == ["host#0", "host#1", "(aggregate)"])
        #expect(good[0].valueList == [10, 11, 10.5, 10, 11, 10.5] && good[0].median == 10.5 && good[0].tenants == 2)
        #expect(good[2].median == 21 && good[2].fairness == 1)
        #expect(results.first { $0.workload == "regex" }?.median == 43)
        let store = try ResultStore(path: makeTemporaryDirectory("db").appendingPathComponent("r.sqlite").path)
        try store.insert(results)
        #expect(try store.all().count == results.count)
        #expect(try store.all().first { $0.workload == "good" }?.manifestHash == manifest.contentHash)
    }
}

@Suite("benchmark runner over the simulated process seam")
struct ScriptedRunnerTests {
    func profile() throws -> WorkloadProfile {
        try WorkloadProfile.load(RepositoryPaths.fixture("workloads") + "/good.yaml")
    }

    func run(_ script: ScriptedProcesses.Script?) throws -> (WorkloadRunner.Outcome, ScriptedProcesses) {
        let profile = try profile()
        let program = profile.arguments(directory: "/w", repetitions: 2, warmups: 1, startAt: 0)[0]
        let processes = ScriptedProcesses(script.map { [program: $0] } ?? [:])
        let log = makeTemporaryDirectory("scripted").appendingPathComponent("run.log")
        let outcome = WorkloadRunner(processes: processes).run(
            profile, directory: "/w", environment: ["CUDA_VISIBLE_DEVICES": "MIG-1"], repetitions: 2, warmups: 1,
            startAt: 0, log: log)
        return (outcome, processes)
    }

    @Test(
        "each way a process ends is reported in the runner's words",
        arguments: [
            (ProcessExit.signalled(9), "was killed by signal 9; see its log"),
            (ProcessExit.exited(2), "exited with status 2; see its log"),
            (ProcessExit.timedOut, "timed out after 30 s"),
        ])
    func endings(exit: ProcessExit, reason: String) throws {
        let (outcome, _) = try run(.init(output: "{\"metric\": \"score\", \"value\": 1}\n", exit: exit))
        #expect(outcome.failure == reason)
        #expect(outcome.values.isEmpty)
    }

    @Test("the argument vector and environment reach the process unchanged; its output is parsed from the log")
    func passesThrough() throws {
        let (outcome, processes) = try run(.init(output: "{\"metric\": \"score\", \"value\": 4}\nnoise\n"))
        #expect(outcome.failure == nil)
        #expect(outcome.values == ["score": [4]])
        let profile = try profile()
        #expect(
            processes.calls.map(\.arguments) == [
                profile.arguments(directory: "/w", repetitions: 2, warmups: 1, startAt: 0)
            ])
        #expect(processes.calls.first?.environment == ["CUDA_VISIBLE_DEVICES": "MIG-1"])
    }

    @Test("a program that cannot start is recorded with the reason")
    func missing() throws {
        let (outcome, _) = try run(nil)
        #expect(outcome.failure?.hasPrefix("could not start '") == true)
    }
}

@Suite("hostile workload profiles")
struct HostileProfileTests {
    @Test("a base-60-looking scalar in a workload profile is refused, not a crash")
    func baseSixty() throws {
        let path = makeTemporaryDirectory("profile").appendingPathComponent("b60.yaml").path
        try """
        name: b60
        version: 9000000000000000000:0
        description: x
        bound: host
        run: [python3, x.py]
        parse: json-lines
        metrics: [{name: s, unit: u, better: higher}]
        timeout: 5
        """.write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: ForbcError.self) { try WorkloadProfile.load(path) }
    }
}

@Suite("workloads inside a guest, through the guest-agent seam")
struct GuestRunnerTests {
    static let good = "{\"metric\": \"score\", \"value\": 7}\n"

    func run(_ guest: ScriptedGuestAgent.Guest) throws -> WorkloadRunner.Outcome {
        let profile = try WorkloadProfile.load(RepositoryPaths.fixture("workloads") + "/good.yaml")
        let agent = ScriptedGuestAgent(["vm1": guest])
        let log = makeTemporaryDirectory("guest").appendingPathComponent("run.log")
        return WorkloadRunner(processes: GuestProcesses(agent: agent, domain: "vm1")).run(
            profile, directory: "/w", environment: [:], repetitions: 1, warmups: 0, startAt: 0, log: log)
    }

    @Test("a workload run in a guest is parsed from what the agent returned")
    func ranInGuest() throws {
        let outcome = try run(.running(["python3": .init(output: Self.good)]))
        #expect(outcome.failure == nil)
        #expect(outcome.values == ["score": [7]])
        #expect(try String(contentsOfFile: outcome.log, encoding: .utf8) == Self.good)
    }

    @Test(
        "an unreachable agent, a domain shut off, a missing program, a hang: each a failure in the agent's words",
        arguments: [
            (ScriptedGuestAgent.Guest.noAgent, "QEMU guest agent is not connected"),
            (.shutOff, "domain is not running"),
            (.running([:]), "Failed to execute child process “python3”"),
            (.running(["python3": .init(exit: .timedOut)]), "timed out after 30 s"),
        ])
    func failures(guest: ScriptedGuestAgent.Guest, words: String) throws {
        let outcome = try run(guest)
        #expect(outcome.failure?.contains(words) == true, "\(outcome.failure ?? "nil")")
        #expect(outcome.values.isEmpty)
    }
}

@Suite("suites in domains")
struct DomainSuiteTests {
    @Test("a suite with 'vms' runs in each running domain through the guest agent; a shut-off one is a failure")
    func vmsTargets() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-t4")
        let manifest = try fixture.benchmarks(
            "{suite: inside, vms: [worker-1, worker-2], workloads: [good], repetitions: 2}")
        let plan = try fixture.plan(manifest)
        let inventory = try fixture.inventory(domains: true)
        let agent = ScriptedGuestAgent([
            "worker-1": .running(["python3": .init(output: "{\"metric\": \"score\", \"value\": 5}\n")])
        ])
        var options = BenchRunner.Options()
        options.launches = 1
        options.maxLaunches = 1
        let runner = BenchRunner(
            profiles: try WorkloadProfile.loadAll(in: RepositoryPaths.fixture("workloads")), options: options,
            agent: agent)
        let results = try runner.run(
            manifest: manifest, plan: plan, inventory: inventory, topology: "guests",
            logs: makeTemporaryDirectory("guest-logs"))
        let inside = try #require(results.first { $0.tenant == "worker-1" })
        #expect(inside.status == "ok", "\(inside.failure ?? "")")
        #expect(inside.valueList == [5])
        #expect(inside.domain == "worker-1" && inside.domainVCPUs == 4 && inside.domainMemoryMiB == 4096)
        let off = try #require(results.first { $0.tenant == "worker-2" })
        #expect(off.status == "failed")
        #expect(off.failure?.contains("domain 'worker-2' is not running") == true)
    }
}
