import ForbcBench
import ForbcCore
import ForbcTestSupport
import Foundation
import Testing

/// The graphics workloads (Manifests/workloads/render.yaml, glmark2.yaml) run for real through `forbc bench run`:
/// OpenGL without a display, here on Mesa's software renderer (the README's test command installs Mesa's EGL,
/// moderngl, glmark2-x11 and Xvfb). Their logs say what rendered them; a machine without an EGL device, or a
/// glmark2 scene that does not exist, is a recorded failure with the reason in the log.
@Suite("graphics workloads")
struct GraphicsWorkloadTests {
    static let workloads = RepositoryPaths.root.appendingPathComponent("Manifests/workloads").path
    /// Mesa's software rasterizers: what renders on a machine without a GPU.
    static func isSoftware(_ renderer: some StringProtocol) -> Bool {
        ["llvmpipe", "softpipe", "swrast"].contains { renderer.contains($0) }
    }

    /// `forbc bench run` of workloads, `tenants` copies at once, two repetitions, one launch: the stored results.
    func bench(_ workloads: String, tenants: Int = 1) throws -> [BenchResult] {
        let cli = CLI()
        let manifest = writeManifest(
            """
            apiVersion: forbc/v1
            kind: Host
            metadata: {name: gfx}
            spec:
              benchmarks:
                - {suite: s, workloads: [\(workloads)], repetitions: 2, tenants: \(tenants)}
            """)
        let ran = cli.run(
            ["bench", "run", "--state-dir", cli.stateDir.path, manifest, "--workloads", Self.workloads]
                + ["--launches", "1", "--max-launches", "1"])
        #expect(ran.code == 0, "\(ran.stdout)\(ran.stderr)")
        let results = try ResultStore(path: cli.stateDir.appendingPathComponent("bench.sqlite").path).all()
        try #require(!results.isEmpty, "nothing stored: \(ran.stderr)")
        return results
    }

    func bench(_ workload: String) throws -> BenchResult { try #require(try bench(workload, tenants: 1).first) }

    func log(of result: BenchResult) throws -> String {
        let logs = try JSONDecoder().decode([String].self, from: Data(result.logs.utf8))
        return try String(contentsOfFile: try #require(logs.first), encoding: .utf8)
    }

    @Test("render: frames/s of the lit torus through EGL, rendered by Mesa's software renderer here")
    func render() throws {
        let result = try bench("render")
        #expect(result.status == "ok", "\(result.failure ?? "")")
        #expect(result.metric == "fps" && result.unit == "frames/s" && result.better == "higher")
        #expect(result.valueList.count == 2 && result.valueList.allSatisfy { $0 > 0 }, "\(result.valueList)")
        // Every result line names its renderer and the fixed scene.
        let lines = try log(of: result).split(separator: "\n").filter { $0.hasPrefix("{") }
        #expect(lines.count == 2)
        for line in lines {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let renderer = try #require(object["renderer"] as? String)
            #expect(Self.isSoftware(renderer), "rendered by '\(renderer)'")
            #expect(object["triangles"] as? Int == 131_072 && object["width"] as? Int == 1280)
            #expect(object["frames"] as? Int == 10)
        }
    }

    @Test("glmark2 off-screen on a private Xvfb: frames/s read by the profile's regex, llvmpipe in its header")
    func glmark2() throws {
        let result = try bench("glmark2")
        #expect(result.status == "ok", "\(result.failure ?? "")")
        #expect(result.valueList.count == 2 && result.valueList.allSatisfy { $0 > 0 }, "\(result.valueList)")
        let text = try log(of: result)
        #expect(text.contains("[jellyfish] duration=2: FPS: "))
        let renderer = try #require(text.firstMatch(of: /GL_RENDERER: +([^\n]+)/)?.1)
        #expect(Self.isSoftware(renderer), "rendered by '\(renderer)'")
        // Its private Xvfb was stopped with the run: its process is gone (not its display's socket: another test's
        // Xvfb, started meanwhile, may take the same display number).
        let pid = try #require(text.firstMatch(of: /glmark2: on Xvfb display :[0-9]+ \(pid ([0-9]+)\)/)?.1)
        let command = (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)) ?? ""
        let state = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8))?.split(separator: " ")
        #expect(!command.hasPrefix("Xvfb") || state?.dropFirst(2).first == "Z", "Xvfb \(pid) still runs")
    }

    @Test("two co-tenants: each renders in the same 1 s windows behind the barrier; their sum is the aggregate")
    func cotenants() throws {
        let results = try bench("render, glmark2", tenants: 2)
        #expect(results.allSatisfy { $0.status == "ok" }, "\(results.compactMap(\.failure))")
        for workload in ["render", "glmark2"] {
            let rows = results.filter { $0.workload == workload }
            #expect(rows.map(\.tenant) == ["host#0", "host#1", "(aggregate)"], "\(workload)")
            #expect(rows.allSatisfy { $0.valueList.count == 2 && $0.valueList.allSatisfy { $0 > 0 } })
            let sum = rows.prefix(2).compactMap(\.median).reduce(0, +)
            #expect(abs((rows.last?.median ?? 0) - sum) < 1e-9 * max(1, sum), "\(workload): sum of the tenants")
            let text = try log(of: rows[0])
            #expect(workload == "render" || text.contains("[jellyfish] duration=1: FPS: "), "\(text)")
        }
    }

    /// One run of a profile from Manifests/workloads, its argument vector edited, in an environment.
    func failure(_ name: String, environment: [String: String] = [:], edit: (String) -> String = { $0 }) throws
        -> (WorkloadRunner.Outcome, String)
    {
        var profile = try WorkloadProfile.load("\(Self.workloads)/\(name).yaml")
        profile.run = profile.run.map(edit)
        let log = makeTemporaryDirectory("gfx").appendingPathComponent("\(name).log")
        let start = Date()
        let outcome = WorkloadRunner().run(
            profile, directory: Self.workloads, environment: environment, repetitions: 1, warmups: 0, startAt: 0,
            log: log)
        #expect(Date().timeIntervalSince(start) < 60, "a failure is quick, not a hang")
        #expect(outcome.values.isEmpty)
        return (outcome, try String(contentsOf: log, encoding: .utf8))
    }

    @Test("no EGL device (none offered, or an index past the last): exit 2 with the reason, recorded as failed")
    func noDevice() throws {
        let (none, noneLog) = try failure("render", environment: ["__EGL_VENDOR_LIBRARY_FILENAMES": "/nonexistent"])
        #expect(none.failure == "exited with status 2; see its log")
        #expect(noneLog.contains("render: no OpenGL 3.3 context through EGL"), "\(noneLog)")
        let (past, pastLog) = try failure("render", environment: ["GLCONTEXT_DEVICE_INDEX": "7"])
        #expect(past.failure == "exited with status 2; see its log")
        #expect(pastLog.contains("requested device index 7"), "\(pastLog)")
    }

    @Test("bad arguments: a glmark2 scene that does not exist, a render size of 0 frames; located in the log")
    func badArguments() throws {
        let (scene, sceneLog) = try failure("glmark2") { $0 == "jellyfish" ? "no-such-scene" : $0 }
        // glmark2 itself would run its whole default suite instead, for minutes: refused before it starts.
        #expect(scene.failure == "exited with status 2; see its log", "\(sceneLog)")
        #expect(sceneLog.contains("glmark2: no scene 'no-such-scene' in this glmark2; it has: "), "\(sceneLog)")
        let (frames, framesLog) = try failure("render") { $0 == "10" ? "0" : $0 }
        #expect(frames.failure == "exited with status 1; see its log")
        #expect(framesLog.contains("--frames and --size must be positive"), "\(framesLog)")
    }
}
