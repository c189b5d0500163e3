import ForbcCommands
import ForbcCore
import ForbcTestSupport
import Foundation
import Testing

/// A simulated mtty host whose manifest asks for `serials` single-port serial devices, and a dual-port one
/// named 'dual' when `dual` says so.
func mttyManifest(serials: Int, dual: Bool = false) -> String {
    """
    apiVersion: forbc/v1
    kind: Host
    metadata: {name: mtty-lab}
    spec:
      gpus:
        - select: {parent: mtty}
          vgpu:
            - {name: serial, type: mtty-1, count: \(serials)}
    \(dual ? "        - {name: dual, type: mtty-2}\n" : "")
    """
}

/// stderr without forbc's notes (the simulated host's banner): the errors and warnings.
func errors(_ result: CLI.Result) -> String {
    result.stderr.split(separator: "\n").filter { !$0.hasPrefix("note: ") }.joined(separator: "\n")
}

extension HostState {
    static func decoded(at url: URL) throws -> HostState {
        try JSONDecoder().decode(HostState.self, from: Data(contentsOf: url))
    }
}

@Suite("git provenance in plan, apply, the state dir and drift metrics")
struct ProvenanceCLITests {
    @Test("in a git work tree: plan JSON, the text line, state.json and forbc_manifest_info; dirty after an edit")
    func provenance() throws {
        let fixture = try GitFixture("provenance-cli")
        try fixture.write("hosts/node1.yaml", mttyManifest(serials: 1))
        let commit = try fixture.commit("node1")
        let manifest = fixture.work.appendingPathComponent("hosts/node1.yaml").path
        let cli = CLI()
        let plan = cli.sim("mtty", "plan", [manifest, "--output", "json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(plan.stdout.utf8)) as? [String: Any])
        let source = try #require(object["source"] as? [String: Any])
        #expect(source["repository"] as? String == fixture.bare.path)
        #expect(source["commit"] as? String == commit)
        #expect(source["path"] as? String == "hosts/node1.yaml")
        #expect(source["dirty"] as? Bool == false)

        let apply = cli.sim("mtty", "apply", [manifest])
        #expect(apply.code == 0, "\(apply.stderr)")
        #expect(
            apply.stdout.contains(
                "declared, not present\nSource: hosts/node1.yaml at \(commit.prefix(12)) in \(fixture.bare.path)\n"
                    + "Apply complete: 1 change made.\n"))
        let state = try HostState.decoded(at: cli.stateDir.appendingPathComponent("state.json"))
        let recorded = ManifestSource(
            repository: fixture.bare.path, commit: commit, path: "hosts/node1.yaml", dirty: false)
        #expect(state.source == recorded)

        let metrics = cli.stateDir.appendingPathComponent("drift.prom").path
        #expect(cli.sim("mtty", "drift", [manifest, "--metrics", metrics]).code == 0)
        let info =
            "forbc_manifest_info{host=\"mtty-lab\",manifest=\"\(manifest)\",repository=\"\(fixture.bare.path)\","
            + "commit=\"\(commit)\",path=\"hosts/node1.yaml\","
        #expect(try String(contentsOfFile: metrics, encoding: .utf8).contains(info + "dirty=\"false\"} 1\n"))

        try fixture.write("hosts/node1.yaml", mttyManifest(serials: 1) + "# edited, not committed\n")
        #expect(cli.sim("mtty", "drift", [manifest, "--metrics", metrics]).code == 0)
        #expect(try String(contentsOfFile: metrics, encoding: .utf8).contains(info + "dirty=\"true\"} 1\n"))
        let dirty = cli.sim("mtty", "plan", [manifest])
        #expect(
            dirty.stdout
                == "No changes: host 'mtty-lab' (simulated) matches \(manifest).\nSource: hosts/node1.yaml at "
                + "\(commit.prefix(12)) in \(fixture.bare.path) (dirty: uncommitted changes)\n")
        let applied = cli.sim("mtty", "apply", [manifest])
        #expect(applied.code == 0)
        let now = try HostState.decoded(at: cli.stateDir.appendingPathComponent("state.json"))
        #expect(now.source?.dirty == true)
    }

    @Test("a manifest outside any git work tree: no provenance anywhere, no warning")
    func noProvenance() throws {
        let manifest = writeManifest(mttyManifest(serials: 1))
        let cli = CLI()
        let plan = cli.sim("mtty", "plan", [manifest, "--output", "json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(plan.stdout.utf8)) as? [String: Any])
        #expect(object["source"] == nil)
        #expect(errors(plan).isEmpty)
        #expect(cli.sim("mtty", "apply", [manifest]).stdout.hasPrefix("Plan for host 'mtty-lab'"))
        #expect(try HostState.decoded(at: cli.stateDir.appendingPathComponent("state.json")).source == nil)
        let metrics = cli.stateDir.appendingPathComponent("drift.prom").path
        #expect(cli.sim("mtty", "drift", [manifest, "--metrics", metrics]).code == 0)
        #expect(try !String(contentsOfFile: metrics, encoding: .utf8).contains("forbc_manifest_info"))
    }
}

@Suite("git provenance: a repository git refuses for its owner")
struct OwnershipCLITests {
    @Test(
        "plan goes on with a warning naming 'safe.directory' (the real git, a tree owned by uid 65534)",
        .enabled(if: getuid() == 0, "needs root, to give the work tree to another user (chown)"))
    func foreignOwner() throws {
        let fixture = try GitFixture("provenance-owner")
        try fixture.write("hosts/node1.yaml", mttyManifest(serials: 1))
        try fixture.commit("node1")
        let work = fixture.work.path
        for path in try [work] + FileManager.default.subpathsOfDirectory(atPath: work).map({ "\(work)/\($0)" }) {
            #expect(lchown(path, 65534, 65534) == 0, "chown \(path)")
        }
        let manifest = fixture.work.appendingPathComponent("hosts/node1.yaml").path
        let cli = CLI()
        let plan = cli.sim("mtty", "plan", [manifest, "--output", "json"])
        #expect(plan.code == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(plan.stdout.utf8)) as? [String: Any])
        #expect(object["source"] == nil)
        #expect(
            errors(plan)
                == "warning: provenance not recorded: reading the repository of \(manifest) failed: git refuses the "
                + "repository at \(work): it is owned by another user ('safe.directory'); if you trust it, run 'git "
                + "config --global --add safe.directory \(work)' as the user forbc runs as")
    }
}
