import ForbcBench
import ForbcCore
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
        #expect(try OutputParser.parse("{\"metric\": \"score\", \"value\": 3}\nhello\n{\"metric\": \"other\", \"value\": 9}\n{\"metric\": \"score\", \"value\": 4.5}", profile: good) == ["score": [3, 4.5]])
        #expect(try OutputParser.parse("Result: 1.5 things/s\nResult: 2 things/s", profile: try profile("regex")) == ["rate": [1.5, 2]])
        for bad in ["", "garbage", "{\"metric\": \"score\", \"value\": \"NaN\"}", "{\"metric\": \"score\"}", "[1]"] {
            #expect(throws: ForbcError.self) { try OutputParser.parse(bad, profile: good) }
        }
    }

    @Test("a workload that crashes, hangs, prints garbage or nothing is recorded as failed with its log", arguments: [
        ("crash", "exited with status 3; see its log"), ("hang", "timed out after 2 s"),
        ("garbage", "no measurements of 'score' in the output"), ("nothing", "no measurements of 'score' in the output"),
    ])
    func failures(name: String, reason: String) throws {
        let log = makeTemporaryDirectory("log").appendingPathComponent("\(name).log")
        let outcome = WorkloadRunner().run(try profile(name), directory: Self.fixtures, environment: [:], repetitions: 1, warmups: 0,
                                           startAt: 0, log: log)
        #expect(outcome.failure == reason)
        #expect(outcome.values.isEmpty)
        #expect(FileManager.default.fileExists(atPath: outcome.log))
        if name == "garbage" { #expect(try String(contentsOfFile: outcome.log, encoding: .utf8).contains("score: lots")) }
    }

    @Test("a profile whose 'run' is a shell string is refused")
    func argumentVector() throws {
        let path = makeTemporaryDirectory("profile").appendingPathComponent("shell.yaml").path
        try "name: shell\nversion: 1\ndescription: x\nbound: host\nrun: [\"python3 train.py --epochs 3\"]\nparse: json-lines\nmetrics: [{name: s, unit: u, better: higher}]\ntimeout: 5\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: ForbcError.self) { try WorkloadProfile.load(path) }
    }

    @Test("a suite with failing and good workloads goes on, records each, and stores them")
    func suiteGoesOn() throws {
        let manifest = try ManifestParser.parse(text: """
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
        #expect(crash.count == 2 && crash.allSatisfy { $0.status == "failed" && $0.failure == "launch 0: exited with status 3; see its log" })
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
