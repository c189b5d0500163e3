import ForbcBench
import ForbcCore
import ForbcSimulator
import ForbcTestSupport
import Foundation
import Testing

/// Co-tenants released together: scripted tenants that get ready at different times, never, or crash first.
@Suite("co-tenants released together")
struct ReleaseTests {
    static let fixtures = RepositoryPaths.fixture("workloads")
    static let good = "{\"metric\": \"score\", \"value\": 5}\n"

    /// A host suite of `tenants` copies of the fixture `good` (a `{sync}` profile) played by `processes`.
    func run(
        tenants: Int, processes: ScriptedProcesses, timeout: Double? = nil, launches: Int = 1
    ) throws -> [BenchResult] {
        let manifest = try ManifestParser.parse(
            text: """
                apiVersion: forbc/v1
                kind: Host
                metadata: {name: release}
                spec:
                  benchmarks:
                    - {suite: s, workloads: [good], repetitions: 2, tenants: \(tenants)}
                """, file: "release.yaml")
        var profile = try WorkloadProfile.load("\(Self.fixtures)/good.yaml")
        if let timeout { profile.timeout = timeout }
        var options = BenchRunner.Options()
        options.launches = launches
        options.maxLaunches = launches
        options.window = 0.01
        let runner = BenchRunner(
            profiles: ["good": (profile, Self.fixtures)], options: options, processes: processes)
        let plan = Plan(host: "release", simulated: false, actions: [], partitions: [], prune: .managed)
        return try runner.run(
            manifest: manifest, plan: plan, inventory: Inventory(), topology: nil,
            logs: makeTemporaryDirectory("release-logs"))
    }

    /// The launch's release record (JSON beside the logs), from a tenant's result.
    func record(_ result: BenchResult?) throws -> [String: Any] {
        let logs = try JSONDecoder().decode([String].self, from: Data(try #require(result).logs.utf8))
        let path = try #require(logs.first { $0.hasSuffix(".json") && $0.contains("/release-") })
        let object = try JSONSerialization.jsonObject(with: try Data(contentsOf: URL(fileURLWithPath: path)))
        return try #require(object as? [String: Any])
    }

    func times(_ record: [String: Any], _ key: String) -> [Double?] {
        (record[key] as? [Any] ?? []).map { ($0 as? NSNumber)?.doubleValue }
    }

    @Test("tenants ready at different times are released at once, only after the slowest is ready")
    func afterTheSlowest() throws {
        let processes = ScriptedProcesses(
            ["python3": .init(output: Self.good)],
            tenants: [0: .init(output: Self.good, readyAfter: 0.05), 1: .init(output: Self.good, readyAfter: 0.4)])
        let results = try run(tenants: 3, processes: processes)
        #expect(results.allSatisfy { $0.status == "ok" }, "\(results.compactMap(\.failure))")
        let record = try record(results.first)
        let ready = times(record, "ready").compactMap { $0 }
        let seen = times(record, "seen").compactMap { $0 }
        #expect(ready.count == 3 && seen.count == 3)
        // Nobody saw `go` before the last tenant said it was ready, and forbc wrote it after that.
        #expect(seen.min()! >= ready.max()!)
        #expect((record["released"] as? Double ?? 0) >= ready.max()!)
        #expect((record["notes"] as? [String]) == [])
        #expect((record["skew"] as? Double).map { $0 >= 0 } == true)
        #expect(results.first { $0.tenant == "(aggregate)" }?.median == 15)
    }

    @Test("a tenant that crashes before it is ready does not hold the others: they are released without it")
    func crashBeforeReady() throws {
        let processes = ScriptedProcesses(
            ["python3": .init(output: Self.good)], tenants: [1: .init(exit: .exited(3), readyAfter: nil)])
        let results = try run(tenants: 3, processes: processes)
        let crashed = try #require(results.first { $0.tenant == "host#1" })
        #expect(crashed.status == "failed" && crashed.failure == "launch 0: exited with status 3; see its log")
        #expect(results.filter { ["host#0", "host#2"].contains($0.tenant) }.allSatisfy { $0.status == "ok" })
        let notes = try record(crashed)["notes"] as? [String]
        // Released when the others were ready and it had ended, not at the profile's timeout.
        #expect(notes == ["'host#1' ended before it was ready: exited with status 3; see its log"])
    }

    @Test("one that never gets ready holds the others until the profile's timeout; one ready too late fails")
    func neverReady() throws {
        let processes = ScriptedProcesses(
            ["python3": .init(output: Self.good)],
            tenants: [1: .init(output: Self.good, readyAfter: 1.5), 2: .init(exit: .timedOut, readyAfter: nil)])
        let results = try run(tenants: 3, processes: processes, timeout: 1)
        #expect(results.first { $0.tenant == "host#0" }?.status == "ok")
        let late = try #require(results.first { $0.tenant == "host#1" })
        #expect(late.status == "failed")
        #expect(late.failure?.contains("was not ready when its co-tenants were released") == true, "\(late)")
        let hung = try #require(results.first { $0.tenant == "host#2" })
        #expect(hung.failure == "launch 0: timed out after 1 s")
        let notes = try record(hung)["notes"] as? [String] ?? []
        #expect(notes.contains("'host#1' was not ready at the release"), "\(notes)")
        #expect(notes.contains { $0.hasPrefix("released at the profile's timeout") }, "\(notes)")
    }

    @Test("7 tenants on a 2-core machine all run at once: one thread each, no cap at the CPU count")
    func noCapAtCPUCount() throws {
        let processes = ScriptedProcesses(["python3": .init(output: Self.good, readyAfter: 0.02)])
        let results = try run(tenants: 7, processes: processes)
        #expect(results.allSatisfy { $0.status == "ok" }, "\(results.compactMap(\.failure))")
        // Each waits for `go`, which comes only when all 7 are ready: all 7 were running together.
        #expect(processes.peakConcurrency == 7)
        #expect(times(try record(results.first), "ready").compactMap { $0 }.count == 7)
    }

    @Test("a lone tenant waits for nobody: no rendezvous folder, no release record")
    func lone() throws {
        let processes = ScriptedProcesses(["python3": .init(output: Self.good)])
        let results = try run(tenants: 1, processes: processes)
        #expect(results.count == 1 && results[0].status == "ok")
        let arguments = try #require(processes.calls.first?.arguments)
        #expect(arguments.suffix(4) == ["--sync", "", "--tenant", "0"])
        #expect(!results[0].logs.contains(".json"))
    }

    @Test("a profile with '{sync}' but no '{tenant}' is refused with its path")
    func syncWithoutTenant() throws {
        let path = makeTemporaryDirectory("profile").appendingPathComponent("half.yaml").path
        let text =
            "name: half\nversion: 1\ndescription: x\nbound: host\nrun: [python3, x.py, --sync, \"{sync}\"]\nparse: "
            + "json-lines\nmetrics: [{name: s, unit: u, better: higher}]\ntimeout: 5\n"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let error = try #require(throws: ForbcError.self) { try WorkloadProfile.load(path) }
        #expect(error.message.hasPrefix("\(path): 'run' has one of '{sync}' and '{tenant}' without the other"))
    }

    @Test("the older '{start_at}' barrier still fills its placeholder")
    func startAt() throws {
        let profile = try WorkloadProfile.load("\(Self.fixtures)/regex.yaml")
        #expect(!profile.usesRelease)
        #expect(
            profile.arguments(directory: "/w", repetitions: 1, warmups: 0, startAt: 12.5).suffix(2) == [
                "--start-at", "12.500",
            ])
    }
}

/// Workloads brought into guests: the folder copied in once per domain and run, the release through the agent.
@Suite("workload folders copied into guests")
struct GuestCopyTests {
    @Test("the folder is copied once per domain per run, '{dir}' names the copy, and co-tenants meet in the guest")
    func copiedOnce() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-t4")
        let manifest = try fixture.benchmarks(
            "{suite: pair, vms: [worker-1], workloads: [good, garbage], repetitions: 1, tenants: 2}",
            "{suite: lone, vms: [worker-1], workloads: [good], repetitions: 1}")
        let agent = ScriptedGuestAgent([
            "worker-1": .running(["python3": .init(output: "{\"metric\": \"score\", \"value\": 5}\n")])
        ])
        var options = BenchRunner.Options()
        options.launches = 2
        options.maxLaunches = 2
        options.window = 0.01
        let folder = RepositoryPaths.fixture("workloads")
        let runner = BenchRunner(profiles: try WorkloadProfile.loadAll(in: folder), options: options, agent: agent)
        let results = try runner.run(
            manifest: manifest, plan: try fixture.plan(manifest), inventory: try fixture.inventory(domains: true),
            topology: nil, logs: makeTemporaryDirectory("copy-logs"))
        #expect(results.allSatisfy { $0.status == "ok" }, "\(results.compactMap(\.failure))")
        #expect(results.filter { $0.tenant != "(aggregate)" }.allSatisfy { $0.domain == "worker-1" })

        let commands = agent.commands
        let made = commands.filter { $0.hasPrefix("worker-1: guest-exec mkdir -p -- /tmp/forbc-") }
        try #require(made.count == 1, "\(commands)")
        let copy = String(made[0].dropFirst("worker-1: guest-exec mkdir -p -- ".count))
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter { !$0.hasPrefix(".") }
        for file in files {
            #expect(commands.filter { $0 == "worker-1: guest-file-write \(copy)/\(file)" }.count == 1, "\(file)")
        }
        // Every workload ran from the copy; 2 suites' launches: 2 × 2 tenants × 2 workloads + 2 lone.
        let runs = commands.filter { $0.hasPrefix("worker-1: guest-exec python3 ") }
        #expect(runs.count == 10 && runs.allSatisfy { $0.hasPrefix("worker-1: guest-exec python3 \(copy)/") })
        // The pair met in the guest: its ready lines read, and `go` written there, once per launch and workload.
        let run = copy.split(separator: "/")[1]
        let goes = commands.filter { $0.hasPrefix("worker-1: guest-file-write /tmp/\(run)/release/pair-") }
        #expect(
            goes.map { $0.split(separator: "/").suffix(2).joined(separator: "/") }.sorted() == [
                "pair-garbage-0/go", "pair-garbage-1/go", "pair-good-0/go", "pair-good-1/go",
            ])
        #expect(commands.contains("worker-1: guest-file-read /tmp/\(run)/release/pair-good-0/ready"))
        // The run's folder is removed from the guest at the end.
        #expect(commands.last == "worker-1: guest-exec rm -rf -- /tmp/\(run)")
        #expect(agent.written.isEmpty)
    }

    @Test("a guest whose agent does not answer: the copy fails in libvirt's words, other suites run")
    func copyFails() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-t4")
        let manifest = try fixture.benchmarks(
            "{suite: inside, vms: [worker-1], workloads: [good], repetitions: 1, tenants: 2}",
            "{suite: host, workloads: [good], repetitions: 1}")
        var options = BenchRunner.Options()
        options.launches = 1
        options.maxLaunches = 1
        options.window = 0.01
        let folder = RepositoryPaths.fixture("workloads")
        let runner = BenchRunner(
            profiles: try WorkloadProfile.loadAll(in: folder), options: options,
            agent: ScriptedGuestAgent(["worker-1": .noAgent]),
            processes: ScriptedProcesses(["python3": .init(output: "{\"metric\": \"score\", \"value\": 5}\n")]))
        let results = try runner.run(
            manifest: manifest, plan: try fixture.plan(manifest), inventory: try fixture.inventory(domains: true),
            topology: nil, logs: makeTemporaryDirectory("copy-fails"))
        #expect(results.first { $0.suite == "host" }?.status == "ok")
        let inside = results.filter { $0.suite == "inside" }
        #expect(inside.map(\.tenant) == ["worker-1#0", "worker-1#1"])
        for result in inside {
            #expect(
                result.failure == "launch 0: copying the workload folder \(folder) into 'worker-1' failed: libvirt: "
                    + "virDomainQemuAgentCommand('worker-1', guest-exec) failed: Guest agent is not responding: QEMU "
                    + "guest agent is not connected")
        }
    }
}
