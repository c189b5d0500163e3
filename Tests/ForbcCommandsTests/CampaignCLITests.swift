import ForbcBench
import ForbcCore
import ForbcTestSupport
import Foundation
import Testing

/// `forbc bench campaign` through the real binary on the simulated A100 host: Manifests/campaigns/mig-sim.yaml
/// (four MIG layouts) with the CPU workloads made small; the host exported and discovered before and after must
/// be identical, also after a SIGTERM mid-way, and `--resume` completes the campaign.
@Suite("topology campaigns through the forbc binary", .serialized)
struct CampaignCLITests {
    static let profile = "nvidia-a100-40gb"

    /// A copy of the example campaign and its topologies in `folder`/campaigns, beside small CPU workloads
    /// (cpu-gemm at 256×256, cpu-stream over 1,000,000 doubles) in `folder`/workloads, which the campaign's
    /// `workloads: ../workloads` names.
    static func campaign(in folder: URL) throws -> String {
        let manager = FileManager.default
        let source = RepositoryPaths.root.appendingPathComponent("Manifests")
        let campaigns = folder.appendingPathComponent("campaigns")
        try manager.createDirectory(at: campaigns, withIntermediateDirectories: true)
        try manager.copyItem(
            at: source.appendingPathComponent("campaigns/mig-sim"), to: campaigns.appendingPathComponent("mig-sim"))
        try manager.copyItem(
            at: source.appendingPathComponent("campaigns/mig-sim.yaml"),
            to: campaigns.appendingPathComponent("mig-sim.yaml"))
        let workloads = folder.appendingPathComponent("workloads")
        try manager.createDirectory(at: workloads, withIntermediateDirectories: true)
        for file in ["common.py", "cpu_gemm.py", "cpu_stream.py"] {
            try manager.copyItem(
                at: source.appendingPathComponent("workloads/\(file)"), to: workloads.appendingPathComponent(file))
        }
        for (name, size) in [("cpu-gemm", "256"), ("cpu-stream", "1000000")] {
            let profile = try String(
                contentsOf: source.appendingPathComponent("workloads/\(name).yaml"), encoding: .utf8
            )
            .replacingOccurrences(of: "--window, \"{window}\"]", with: "--window, \"{window}\", --size, \"\(size)\"]")
            try #require(profile.contains("\"\(size)\""))
            try profile.write(to: workloads.appendingPathComponent("\(name).yaml"), atomically: true, encoding: .utf8)
        }
        return campaigns.appendingPathComponent("mig-sim.yaml").path
    }

    /// What the host looks like: its export and its discovery (MIG modes included).
    static func host(_ state: String) throws -> String {
        let simulated = ["--simulate", profile, "--state-dir", state]
        let export = try ForbcBinary.run(["export"] + simulated)
        let discover = try ForbcBinary.run(["discover"] + simulated)
        try #require(export.code == 0 && discover.code == 0, "\(export.stderr)\(discover.stderr)")
        return export.stdout + discover.stdout
    }

    static func arguments(_ file: String, _ state: String) -> [String] {
        ["bench", "campaign", file, "--simulate", profile, "--state-dir", state, "--yes", "--launches", "1"]
            + ["--max-launches", "1"]
    }

    @Test("four MIG topologies measured in turn, one comparison and one report, the host exactly as before")
    func campaign() throws {
        let folder = makeTemporaryDirectory("campaign")
        let file = try Self.campaign(in: folder)
        let state = folder.appendingPathComponent("state").path
        let before = try Self.host(state)
        let ran = try ForbcBinary.run(Self.arguments(file, state))
        #expect(ran.code == 0, "\(ran.stderr)")
        #expect(try Self.host(state) == before)
        #expect(ran.stderr.contains("campaign: host restored; drift against the snapshot: 0"))
        // The whole plan first: every topology's actions, before anything is applied.
        let lastPlan = try #require(ran.stdout.range(of: "Topology 4/4 'all-7g' (")).lowerBound
        #expect(lastPlan < (ran.stdout.range(of: "Apply complete")?.lowerBound ?? lastPlan))
        #expect(ran.stdout.contains("+ create    'rest-5': MIG instance 1g.5gb at slot 6 of 0000:07:00.0"))
        for (i, name) in ["all-1g", "balanced", "all-3g", "all-7g"].enumerated() {
            #expect(ran.stderr.contains("campaign: [\(i + 1)/4 \(name)] converged (drift 0); measuring"))
            #expect(ran.stderr.contains("campaign: [\(i + 1)/4 \(name)] \(name): cpu-stream launch 1"))
        }
        #expect(ran.stderr.contains(" s elapsed, ~") && ran.stderr.contains(" s left)"))
        let results = try ResultStore(path: state + "/bench.sqlite").all()
        #expect(results.count == 12 && results.allSatisfy { $0.status == "ok" }, "\(results.compactMap(\.failure))")
        #expect(Set(results.map(\.topology)) == ["all-1g", "balanced", "all-3g", "all-7g"])
        #expect(results.allSatisfy { $0.host.hasSuffix("(simulated \(Self.profile))") && $0.partitionKind == "mig" })
        // The comparison divides by the campaign's baseline; the report says the host was simulated.
        #expect(ran.stdout.contains("Ratios to 'all-7g'"))
        #expect(ran.stdout.contains("  all-1g               cpu-gemm     gflops  first"))
        let report = try String(contentsOfFile: state + "/campaign-mig-sim/report.html", encoding: .utf8)
        #expect(report.contains("4 topologies on a SIMULATED host ('\(Self.profile)'): its partitions are simulated"))
        #expect(report.contains("baseline topology <b>all-7g</b>"))
        // Run again: a completed campaign starts afresh; '--resume' has nothing to resume.
        let resumed = try ForbcBinary.run(Self.arguments(file, state) + ["--resume"])
        #expect(resumed.code == 1 && resumed.stderr.contains("has no interrupted run"), "\(resumed.stderr)")
    }

    @Test("SIGTERM during topology 2: workloads stopped, host restored, exit 1; --resume measures the rest")
    func interrupted() throws {
        let folder = makeTemporaryDirectory("campaign-term")
        let file = try Self.campaign(in: folder)
        let state = folder.appendingPathComponent("state").path
        let before = try Self.host(state)
        // Two launches a workload, so topology 2 is still measuring when the signal comes.
        let running = try ForbcBinary.start(
            ["bench", "campaign", file, "--simulate", Self.profile, "--state-dir", state, "--yes", "--launches", "3"]
                + ["--max-launches", "3"])
        var seen = Data()
        let errors = running.errors.fileHandleForReading
        while !String(decoding: seen, as: UTF8.self).contains("campaign: [2/4 balanced] balanced: cpu-gemm") {
            let chunk = errors.availableData
            if chunk.isEmpty { break }
            seen += chunk
        }
        running.process.terminate()
        let outcome = running.wait()
        let stderr = String(decoding: seen, as: UTF8.self) + outcome.stderr
        #expect(outcome.code == 1 && !outcome.signalled, "\(stderr)")
        #expect(stderr.contains("campaign: SIGTERM received; stopping the workloads, then restoring the host"))
        #expect(stderr.contains("interrupted by SIGTERM after 1 of 4 topologies; the host is restored"))
        #expect(try Self.host(state) == before)
        // Only topology 1 was recorded; the interrupted topology's values were not stored.
        let stored = try ResultStore(path: state + "/bench.sqlite").all()
        #expect(Set(stored.map(\.topology)) == ["all-1g"])
        // A fresh start refuses to overwrite the interrupted campaign.
        let fresh = try ForbcBinary.run(Self.arguments(file, state))
        #expect(fresh.code == 1 && fresh.stderr.contains("continue it with '--resume'"), "\(fresh.stderr)")

        let resumed = try ForbcBinary.run(Self.arguments(file, state) + ["--resume"])
        #expect(resumed.code == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("campaign: [1/4 all-1g] measured already; skipped"))
        #expect(!resumed.stderr.contains("[1/4 all-1g] applying"))
        #expect(try Self.host(state) == before)
        let results = try ResultStore(path: state + "/bench.sqlite").all()
        #expect(Set(results.map(\.topology)) == ["all-1g", "balanced", "all-3g", "all-7g"])
        #expect(FileManager.default.fileExists(atPath: state + "/campaign-mig-sim/report.html"))
        #expect(resumed.stdout.contains("(12 results of 4 topologies)"))
    }

    /// Starts the campaign with `extra` arguments; once its first workload runs (it creates `marker`), sends
    /// SIGTERM, then waits for each of `answers` in turn, sending another SIGTERM after each but the last; its
    /// outcome and all of stderr.
    static func interrupt(_ file: String, _ state: String, _ extra: [String], marker: String, answers: [String])
        throws -> (outcome: ForbcBinary.Outcome, stderr: String)
    {
        try? FileManager.default.removeItem(atPath: marker)
        let running = try ForbcBinary.start(arguments(file, state) + extra, environment: ["FORBC_TEST_MARKER": marker])
        let deadline = Date().addingTimeInterval(60)
        while !FileManager.default.fileExists(atPath: marker) && running.process.isRunning && Date() < deadline {
            usleep(20_000)
        }
        kill(running.process.processIdentifier, SIGTERM)
        var seen = Data()
        let errors = running.errors.fileHandleForReading
        for awaited in answers {
            while !String(decoding: seen, as: UTF8.self).contains(awaited) {
                let chunk = errors.availableData
                if chunk.isEmpty { break }
                seen += chunk
            }
            // The next signal once forbc answered this one (two sent at once may merge: a pending signal is not
            // queued again).
            if awaited != answers.last { kill(running.process.processIdentifier, SIGTERM) }
        }
        let outcome = running.wait()
        return (outcome, String(decoding: seen, as: UTF8.self) + outcome.stderr)
    }

    @Test("a second signal lets the restore finish and says so; a third within 5 s ends forbc, '--resume' restores")
    func repeatedSignals() throws {
        let folder = makeTemporaryDirectory("campaign-signals")
        let file = try Self.campaign(in: folder)
        // A workload that ignores SIGTERM and runs on: forbc kills it 3 s after its SIGTERM, and the restore waits
        // for that, so the signals below all come before the host is restored. Each copy adds its pid to `pids`.
        let gemm = folder.appendingPathComponent("workloads/cpu_gemm.py")
        let measuring = try String(contentsOf: gemm, encoding: .utf8)
        try """
        import os, signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        with open(os.environ["FORBC_TEST_MARKER"] + ".pids", "a") as pids:
            pids.write(f"{os.getpid()}\\n")
        open(os.environ["FORBC_TEST_MARKER"], "w").close()
        time.sleep(60)
        """.write(to: gemm, atomically: true, encoding: .utf8)
        let marker = folder.appendingPathComponent("running").path
        let state = folder.appendingPathComponent("state").path
        let before = try Self.host(state)
        let stopping = "campaign: SIGTERM received; stopping the workloads, then restoring the host"
        let again = "campaign: SIGTERM received again; the restore of the host goes on"
        let twice = try Self.interrupt(file, state, [], marker: marker, answers: [stopping, again])
        #expect(twice.outcome.code == 1 && !twice.outcome.signalled, "\(twice.stderr)")
        #expect(twice.stderr.contains(again + " (stopping it half-way"), "\(twice.stderr)")
        #expect(twice.stderr.contains("send SIGINT or SIGTERM again within 5 s to stop at once"))
        #expect(twice.stderr.contains("interrupted by SIGTERM after 0 of 4 topologies; the host is restored"))
        #expect(try Self.host(state) == before)
        // Three: the third, within the window, ends forbc at once, saying what is left, the workloads killed
        // first (each leads a process group of its own, which forbc's end would leave running).
        try FileManager.default.removeItem(atPath: marker + ".pids")
        let thrice = try Self.interrupt(
            file, state, ["--resume"], marker: marker,
            answers: [stopping, again, "the restore was abandoned by SIGTERM"])
        #expect(thrice.outcome.code == 128 + SIGTERM && !thrice.outcome.signalled, "\(thrice.stderr)")
        let workloads = try String(contentsOfFile: marker + ".pids", encoding: .utf8).split(separator: "\n")
        #expect(!workloads.isEmpty)
        for pid in workloads.compactMap({ pid_t($0) }) {
            #expect(Self.ended(pid), "workload \(pid) still runs after forbc abandoned the restore")
        }
        #expect(
            thrice.stderr.contains(
                "error: \(file): the restore was abandoned by SIGTERM: the host is NOT restored to its snapshot "
                    + "\(state)/campaign-mig-sim/snapshot.yaml; 'forbc plan \(state)/campaign-mig-sim/snapshot.yaml' "
                    + "with this command's host options lists what is left; run the campaign again with '--resume' "
                    + "to restore it"),
            "\(thrice.stderr)")
        #expect(try Self.host(state) != before, "abandoned before the restore")
        try measuring.write(to: gemm, atomically: true, encoding: .utf8)
        let resumed = try ForbcBinary.run(Self.arguments(file, state) + ["--resume"])
        #expect(resumed.code == 0, "\(resumed.stderr)")
        #expect(try Self.host(state) == before)
    }

    /// Whether process `pid` ended (gone, or a zombie that nobody reaped yet) within 5 s: SIGKILL is not
    /// instant.
    static func ended(_ pid: pid_t) -> Bool {
        for _ in 0..<100 {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return true }
            if stat[stat.index(after: close)...].hasPrefix(" Z") { return true }
            usleep(50_000)
        }
        return false
    }

    /// A campaign beside the example's topology files, with `topologies` and `suites` as given.
    static func bad(_ folder: URL, topologies: String, suites: String) throws -> String {
        let path = folder.appendingPathComponent("campaigns/bad.yaml").path
        try """
        apiVersion: forbc/v1
        kind: Campaign
        metadata: {name: bad}
        spec:
          workloads: ../workloads
          topologies:
        \(topologies)
          suites:
        \(suites)
        """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("bad input: a missing topology file, an impossible topology, a suite's partition absent; nothing changed")
    func badInput() throws {
        let folder = makeTemporaryDirectory("campaign-bad")
        _ = try Self.campaign(in: folder)
        let state = folder.appendingPathComponent("state").path
        let before = try Self.host(state)
        let suite = "    - {suite: cpu, on: [first], workloads: [cpu-gemm]}"
        let first = "    - {name: all-1g, manifest: mig-sim/all-1g.yaml}"
        let impossible = """
                - name: eight
                  manifest:
                    apiVersion: forbc/v1
                    kind: Host
                    metadata: {name: a100-40-node}
                    spec:
                      gpus:
                        - select: {index: 0}
                          mig:
                            - {name: first, profile: 1g.5gb}
                            - {name: rest, profile: 1g.5gb, count: 7}
            """
        let cases: [(String, String, String)] = [
            (
                first + "\n    - {name: gone, manifest: mig-sim/nowhere.yaml}", suite,
                "bad.yaml:8:30: error: 'spec.topologies[1].manifest' names 'mig-sim/nowhere.yaml', and "
            ),
            (
                first + "\n" + impossible, suite,
                "bad.yaml:8:7: error: topology 'eight' (inline in \(folder.path)/campaigns/bad.yaml) cannot be "
                    + "planned on this host:\n\(folder.path)/campaigns/bad.yaml:17:19: error: no MIG layout of "
            ),
            (
                first + "\n    - {name: all-3g, manifest: mig-sim/all-3g.yaml}",
                "    - {suite: cpu, on: [first, rest-0], workloads: [cpu-gemm]}",
                "bad.yaml:10:32: error: suite 'cpu' runs on 'rest-0', which topology 'all-3g' "
            ),
        ]
        for (topologies, suites, expected) in cases {
            let file = try Self.bad(folder, topologies: topologies, suites: suites)
            let ran = try ForbcBinary.run(Self.arguments(file, state))
            #expect(ran.code == 1 && ran.stderr.contains(expected), "\(ran.stderr)")
            #expect(!ran.stdout.contains("Topology 1/"), "the plan was printed: \(ran.stdout)")
            #expect(!FileManager.default.fileExists(atPath: state + "/campaign-bad"))
            #expect(try Self.host(state) == before)
        }
    }

    @Test("asked once: refused without a terminal, or when not confirmed; nothing changed")
    func confirmation() throws {
        let folder = makeTemporaryDirectory("campaign-ask")
        let file = try Self.campaign(in: folder)
        let cli = CLI()
        let before = try Self.host(cli.stateDir.path)
        let arguments = ["bench", "campaign", file, "--simulate", Self.profile, "--state-dir", cli.stateDir.path]
        let refused = cli.run(arguments)
        #expect(refused.code == 1 && refused.stderr.contains("refusing without confirmation: rerun with '--yes'"))
        #expect(refused.stdout.contains("Topology 4/4 'all-7g'"))
        let declined = cli.run(arguments, answer: "n")
        #expect(declined.code == 1 && declined.stderr.contains("Run campaign 'mig-sim' (4 topologies)? [y/N]"))
        #expect(declined.stderr.contains("error: nothing changed: the campaign was not confirmed"))
        #expect(try Self.host(cli.stateDir.path) == before)
        #expect(!FileManager.default.fileExists(atPath: cli.stateDir.path + "/campaign-mig-sim"))
    }

    @Test("a link in place of the campaign's folder in the state dir is refused; nothing changed, nothing written")
    func linkedFolder() throws {
        let file = try Self.campaign(in: makeTemporaryDirectory("campaign-link"))
        let cli = CLI()
        let before = try Self.host(cli.stateDir.path)
        let elsewhere = makeTemporaryDirectory("elsewhere")
        let link = cli.stateDir.path + "/campaign-mig-sim"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: elsewhere.path)
        let result = cli.run(Self.arguments(file, cli.stateDir.path))
        #expect(result.code == 1)
        #expect(result.stderr.contains("\(link) is a symbolic link; forbc does not follow links"), "\(result.stderr)")
        #expect(try Self.host(cli.stateDir.path) == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: elsewhere.path).isEmpty)
    }

    /// An inline topology: the simulated H100's GPU with a MIG instance `first` of `profile` (and `extra`).
    static func h100(_ name: String, _ profile: String, extra: String = "") -> String {
        """
            - name: \(name)
              manifest:
                apiVersion: forbc/v1
                kind: Host
                metadata: {name: h100-node}
                spec:
                  gpus:
                    - select: {model: H100}
                      mig:
                        - {name: first, profile: \(profile)}\(extra)
        """
    }

    @Test("a topology that fails to apply (MIG mode pending a reset): host restored, exit 1; --resume --reset-gpu")
    func failedTopology() throws {
        let folder = makeTemporaryDirectory("campaign-fail")
        _ = try Self.campaign(in: folder)
        let state = folder.appendingPathComponent("state").path
        let simulated = ["--simulate", "nvidia-h100", "--state-dir", state]
        let host = { () throws -> String in
            try ForbcBinary.run(["export"] + simulated).stdout + ForbcBinary.run(["discover"] + simulated).stdout
        }
        let before = try host()
        #expect(before.contains("MIG: mode disabled (pending disabled)"))
        let extra = "\n                - {name: rest, profile: 1g.10gb, count: 2}"
        let file = try Self.bad(
            folder, topologies: Self.h100("split", "3g.40gb", extra: extra) + "\n" + Self.h100("whole", "7g.80gb"),
            suites: "    - {suite: cpu, on: [first], workloads: [cpu-gemm], repetitions: 3}")
        let arguments = ["bench", "campaign", file] + simulated + ["--yes", "--launches", "1", "--max-launches", "1"]
        let failed = try ForbcBinary.run(arguments)
        #expect(failed.code == 1, "\(failed.stderr)")
        #expect(failed.stderr.contains("error: topology 'split': MIG mode of 0000:00:06.0 is pending a GPU reset"))
        #expect(failed.stderr.contains("campaign: host restored; drift against the snapshot: 0"))
        #expect(try host() == before)
        let resumed = try ForbcBinary.run(arguments + ["--resume", "--reset-gpu"])
        #expect(resumed.code == 0, "\(resumed.stderr)")
        #expect(resumed.stdout.contains("Ratios to 'split'") && resumed.stdout.contains("(2 results of 2 topologies)"))
        #expect(try host() == before)
    }

    @Test("a lone baseline with 'timing: wall-window' is timed as its co-tenants: ratios like with like, no MIXED")
    func windowedBaseline() throws {
        let folder = makeTemporaryDirectory("campaign-window")
        _ = try Self.campaign(in: folder)
        let state = folder.appendingPathComponent("state").path
        let file = try Self.bad(
            folder,
            topologies: """
                    - {name: lone, manifest: mig-sim/all-7g.yaml, suites: [lone]}
                    - {name: pair, manifest: mig-sim/all-7g.yaml, suites: [pair]}
                """,
            suites: """
                    - {suite: lone, on: [first], workloads: [cpu-gemm], repetitions: 2, timing: wall-window}
                    - {suite: pair, on: [first], workloads: [cpu-gemm], repetitions: 2, tenants: 2}
                """)
        // '--output json': the text goes to stderr, stdout holds the summary alone.
        let ran = try ForbcBinary.run(Self.arguments(file, state) + ["--output", "json"])
        #expect(ran.code == 0, "\(ran.stderr)")
        let results = try ResultStore(path: state + "/bench.sqlite").all()
        #expect(results.count == 1 + 3 && results.allSatisfy { $0.status == "ok" && $0.timing == Timing.wallWindow })
        #expect(ran.stderr.contains("Ratios to 'lone'") && !ran.stderr.contains("MIX") && !ran.stderr.contains("mix"))
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(ran.stdout.utf8)) as? [String: Any])
        #expect(summary["outcome"] as? String == "completed" && summary["restored"] as? Bool == true)
        #expect(summary["complete"] as? Bool == true && summary["results"] as? Int == 4)
        #expect(summary["report"] as? String == state + "/campaign-bad/report.html")
        let topologies = try #require(summary["topologies"] as? [[String: Any]])
        #expect(topologies.map { $0["name"] as? String } == ["lone", "pair"])
        #expect(topologies.allSatisfy { $0["status"] as? String == "measured" && $0["failed"] as? Int == 0 })
        // Without it the lone tenant times itself (the host's clock) and every ratio says it mixes methods.
        let auto = try Self.bad(
            folder, topologies: "    - {name: lone, manifest: mig-sim/all-7g.yaml, suites: [lone]}",
            suites: "    - {suite: lone, on: [first], workloads: [cpu-gemm], repetitions: 2, timing: auto}")
        let own = try ForbcBinary.run(Self.arguments(auto, folder.appendingPathComponent("own").path))
        #expect(own.code == 0, "\(own.stderr)")
        let lone = try ResultStore(path: folder.appendingPathComponent("own/bench.sqlite").path).all()
        #expect(lone.count == 1 && lone.allSatisfy { $0.timing == Timing.hostClock })
        // A timing that is neither is a located error, before anything changes.
        let wrong = try Self.bad(
            folder, topologies: "    - {name: lone, manifest: mig-sim/all-7g.yaml}",
            suites: "    - {suite: lone, on: [first], workloads: [cpu-gemm], timing: window}")
        let refused = try ForbcBinary.run(Self.arguments(wrong, state))
        #expect(
            refused.code != 0
                && refused.stderr.contains(
                    "bad.yaml:9:65: error: 'spec.suites[0].timing' is 'window'; it must be 'auto' (co-tenants"),
            "\(refused.stderr)")
    }

    /// Manifests/campaign-h100.yaml planned on the simulated H100 (no GPU needed), as `--yes` would run it.
    @Test(
        "the H100 campaign: six topologies planned on a simulated H100, MPS daemons started by forbc; nothing changed")
    func h100Plan() throws {
        let cli = CLI()
        let file = RepositoryPaths.root.appendingPathComponent("Manifests/campaign-h100.yaml").path
        let simulated = ["--simulate", "nvidia-h100", "--state-dir", cli.stateDir.path]
        let before = try ForbcBinary.run(["export"] + simulated).stdout
        let validated = cli.run(["validate", file])
        #expect(validated.code == 0, "\(validated.stdout)\(validated.stderr)")
        let planned = cli.run(["bench", "campaign", file] + simulated)
        #expect(planned.code == 1 && planned.stderr.contains("refusing without confirmation: rerun with '--yes'"))
        let names = ["full-gpu", "time-sliced-2", "time-sliced-4", "time-sliced-7", "mps-2x50", "mps-7x14"]
        for (i, name) in names.enumerated() {
            #expect(planned.stdout.contains("Topology \(i + 1)/6 '\(name)' ("), "\(planned.stdout)")
        }
        let suites = ["lone", "ts2", "ts4", "ts7", "mps2", "mps7"]
        for suite in suites { #expect(planned.stdout.contains("), suites: \(suite)\n")) }
        #expect(planned.stdout.contains("set_default_active_thread_percentage 50; declared, not present"))
        #expect(planned.stdout.contains("set_default_active_thread_percentage 14; declared, not present"))
        #expect(try ForbcBinary.run(["export"] + simulated).stdout == before)
        let campaign = try CampaignParser.parse(contentsOf: file)
        #expect(campaign.baselineTopology == "full-gpu" && campaign.launches == 2)
        #expect(campaign.suites.map(\.wallWindow) == [true, false, false, false, false, false])
        #expect(campaign.suites.map(\.tenants) == [1, 2, 4, 7, 2, 7])
        #expect(campaign.suites.allSatisfy { $0.workloads == ["gemm", "stream", "transformer-infer", "render"] })
    }
}

@Suite("forbc bench campaign: a campaign that stops before it runs")
struct CampaignEarlyFailureCLITests {
    @Test("a missing file: located on stderr as validate and plan locate it; with --output json, an 'error' summary")
    func missingFile() throws {
        let cli = CLI()
        let state = cli.stateDir.path
        let located =
            "/nonexistent/c.yaml:1:1: error: cannot read '/nonexistent/c.yaml': no such file or directory (ENOENT)\n"
        let runs = [
            cli.run(["validate", "/nonexistent/c.yaml"]), cli.sim("mtty", "plan", ["/nonexistent/c.yaml"]),
            cli.run(["bench", "campaign", "/nonexistent/c.yaml", "--simulate", "mtty", "--state-dir", state]),
        ]
        for text in runs {
            #expect(text.code == 1 && errors(text) + "\n" == located && text.stdout.isEmpty, "\(text.stderr)")
        }
        let json = cli.run(
            [
                "bench", "campaign", "/nonexistent/c.yaml", "--simulate", "mtty", "--state-dir", state, "--output",
                "json",
            ])
        #expect(json.code == 1)
        #expect(errors(json) + "\n" == located)
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(summary["outcome"] as? String == "error")
        #expect(summary["file"] as? String == "/nonexistent/c.yaml")
        #expect(summary["error"] as? String == String(located.dropLast()))
        #expect(summary["complete"] as? Bool == false && summary["results"] as? Int == 0)
        #expect((summary["topologies"] as? [Any])?.isEmpty == true && summary["restored"] == nil)
    }

    @Test("with --output json, a campaign not confirmed still prints its summary: outcome 'error', the reason")
    func notConfirmed() throws {
        let folder = makeTemporaryDirectory("campaign-unconfirmed")
        let file = try CampaignCLITests.campaign(in: folder)
        let state = folder.appendingPathComponent("state").path
        let ran = try ForbcBinary.run([
            "bench", "campaign", file, "--simulate", CampaignCLITests.profile, "--state-dir", state, "--output", "json",
        ])
        #expect(ran.code == 1)
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(ran.stdout.utf8)) as? [String: Any])
        #expect(summary["outcome"] as? String == "error")
        #expect((summary["error"] as? String)?.hasSuffix("refusing without confirmation: rerun with '--yes'") == true)
    }
}
