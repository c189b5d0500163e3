import ForbcCommands
import ForbcCore
import ForbcTestSupport
import Foundation
import Testing

/// A repository with hosts/node1.yaml and a simulated mtty host that syncs from it as 'node1.lab'.
struct SyncBench {
    let fixture: GitFixture
    let cli = CLI()

    init(_ label: String) throws { fixture = try GitFixture(label) }

    var checkout: URL { cli.stateDir.appendingPathComponent("sync/checkout") }

    func sync(_ extra: [String] = [], host: String = "node1.lab", repo: String? = nil) -> CLI.Result {
        cli.sim(
            "mtty", "sync",
            ["--repo", repo ?? fixture.bare.path, "--path", "hosts/%H.yaml", "--hostname", host] + extra)
    }

    func record() throws -> SyncRecord? { try SyncRecord.load(from: StateStore(directory: cli.stateDir)) }

    /// What a refusal must leave as it was: the state, the sync record and the checkout's HEAD.
    func snapshot() throws -> [String] {
        let files = ["state.json", "sync.json"].map { cli.stateDir.appendingPathComponent($0) }
        let contents = files.map { (try? String(contentsOf: $0, encoding: .utf8)) ?? "absent" }
        let head = (try? GitFixture.git(["-C", checkout.path, "rev-parse", "HEAD"])) ?? "no checkout"
        return contents + [head]
    }

    /// The host's plan of `serials` serial devices (exit 0 when it already matches).
    func planExit(serials: Int, dual: Bool = false) -> Int32 {
        cli.sim("mtty", "plan", [writeManifest(mttyManifest(serials: serials, dual: dual)), "--detailed-exitcode"]).code
    }
}

@Suite("forbc sync against a local bare repository")
struct SyncCLITests {
    @Test("first run applies and records the commit; a rerun changes nothing; a new commit is applied")
    func converges() throws {
        let bench = try SyncBench("sync")
        try bench.fixture.write("hosts/node1.yaml", mttyManifest(serials: 1))
        let first = try bench.fixture.commit("node1: one serial")
        let applied = bench.sync()
        #expect(applied.code == 0, "\(applied.stderr)")
        #expect(
            applied.stdout.hasSuffix(
                "Apply complete: 1 change made.\nSynced: host 'mtty-lab' (simulated) now at commit "
                    + "\(first.prefix(12)) of '\(bench.fixture.bare.path)' (hosts/node1.yaml); 1 change made.\n"))
        #expect(try bench.record()?.commit == first)
        #expect(try bench.record()?.path == "hosts/node1.yaml")
        let state = try HostState.decoded(at: bench.cli.stateDir.appendingPathComponent("state.json"))
        #expect(state.source?.commit == first)
        #expect(state.source?.dirty == false)
        #expect(bench.planExit(serials: 1) == 0)

        let again = bench.sync()
        #expect(again.code == 0)
        #expect(
            again.stdout
                == "Synced: host 'mtty-lab' (simulated) still at commit \(first.prefix(12)) of "
                + "'\(bench.fixture.bare.path)' (hosts/node1.yaml); no changes needed.\n")

        try bench.fixture.write("hosts/node1.yaml", mttyManifest(serials: 1, dual: true))
        let second = try bench.fixture.commit("node1: and a dual-port one")
        let grown = bench.sync()
        #expect(grown.code == 0, "\(grown.stderr)")
        #expect(grown.stdout.contains("+ create    'dual'"))
        #expect(
            grown.stdout.hasSuffix(
                "moved from \(first.prefix(12)) to commit \(second.prefix(12)) of '\(bench.fixture.bare.path)' "
                    + "(hosts/node1.yaml); 1 change made.\n"))
        #expect(try bench.record()?.commit == second)
        #expect(bench.planExit(serials: 1, dual: true) == 0)
    }

    @Test("--require-signed: an unsigned commit is refused and nothing applied; an SSH-signed one is taken")
    func signatures() throws {
        let bench = try SyncBench("sync-signed")
        let (key, allowed) = try bench.fixture.signingKey()
        try bench.fixture.write("hosts/node1.yaml", mttyManifest(serials: 1))
        let signed = try bench.fixture.commit("signed", signingKey: key)
        let required = ["--require-signed", "--allowed-signers", allowed]
        #expect(bench.sync(required).code == 0)
        #expect(try bench.record()?.commit == signed)

        try bench.fixture.write("hosts/node1.yaml", mttyManifest(serials: 1, dual: true))
        let unsigned = try bench.fixture.commit("unsigned")
        let before = try bench.snapshot()
        let refused = bench.sync(required)
        #expect(refused.code == 2)
        #expect(
            errors(refused)
                == "error: refused: commit \(unsigned.prefix(12)) of '\(bench.fixture.bare.path)' is not signed; "
                + "nothing applied ('--require-signed' takes only commits whose signature git verifies)")
        #expect(try bench.snapshot() == before)
        #expect(bench.planExit(serials: 1) == 0)

        // Signed, but by a key the allowed signers do not list.
        let stranger = try GitFixture("stranger").signingKey().key
        try bench.fixture.write("hosts/node1.yaml", mttyManifest(serials: 1, dual: true) + "# by a stranger\n")
        let untrusted = try bench.fixture.commit("untrusted", signingKey: stranger)
        let rejected = bench.sync(required)
        #expect(rejected.code == 2)
        #expect(
            errors(rejected).hasPrefix(
                "error: refused: commit \(untrusted.prefix(12)) of '\(bench.fixture.bare.path)' has a signature 'git "
                    + "verify-commit' does not accept: "))
        #expect(try bench.snapshot() == before)
    }

    @Test("no manifest for this host: refused, naming the path tried; a first run leaves no checkout")
    func noManifest() throws {
        let bench = try SyncBench("sync-nohost")
        try bench.fixture.write("hosts/node1.yaml", mttyManifest(serials: 1))
        let commit = try bench.fixture.commit("node1 only")
        let refused = bench.sync(host: "node2.lab")
        #expect(refused.code == 2)
        #expect(
            errors(refused)
                == "error: refused: commit \(commit.prefix(12)) of '\(bench.fixture.bare.path)' has no manifest for "
                + "host 'node2.lab': no file 'hosts/node2.yaml' in it; nothing applied; add the host's manifest "
                + "there, or pass the '--path' that holds it")
        #expect(try bench.snapshot() == ["absent", "absent", "no checkout"])
    }

    @Test("a checkout someone edited: refused, naming the files; nothing applied")
    func dirtyCheckout() throws {
        let bench = try SyncBench("sync-dirty")
        try bench.fixture.write("hosts/node1.yaml", mttyManifest(serials: 1))
        try bench.fixture.commit("one")
        #expect(bench.sync().code == 0)
        try bench.fixture.write("hosts/node1.yaml", mttyManifest(serials: 1, dual: true))
        try bench.fixture.commit("two")
        let edited = bench.checkout.appendingPathComponent("hosts/node1.yaml")
        try (mttyManifest(serials: 1) + "# a local fix\n").write(to: edited, atomically: true, encoding: .utf8)
        try "".write(to: bench.checkout.appendingPathComponent("notes.txt"), atomically: true, encoding: .utf8)
        let before = try bench.snapshot()
        let refused = bench.sync()
        #expect(refused.code == 2)
        let dir = bench.checkout.path
        #expect(
            errors(refused)
                == "error: refused: the checkout \(dir) has changes forbc did not make: 'hosts/node1.yaml' "
                + "(modified), 'notes.txt' (untracked); nothing applied; edit the repository, not forbc's checkout (to "
                + "drop them: 'git -C \(dir) checkout --force HEAD && git -C \(dir) clean -fd')")
        #expect(try bench.snapshot() == before)
        #expect(bench.planExit(serials: 1) == 0)
    }

    @Test("a repository that does not exist: git's words, exit 1, nothing applied or left behind")
    func missingRepository() throws {
        let bench = try SyncBench("sync-missing")
        let nowhere = bench.fixture.directory.appendingPathComponent("nowhere.git").path
        let failed = bench.sync(repo: nowhere)
        #expect(failed.code == 1)
        #expect(
            errors(failed)
                == "error: fetching HEAD of '\(nowhere)' in \(bench.checkout.path) failed: '\(nowhere)' does not "
                + "appear to be a git repository; Could not read from remote repository.")
        #expect(try bench.snapshot() == ["absent", "absent", "no checkout"])
    }

    @Test("a commit that destroys partitions: refused without --yes, applied with it")
    func destroys() throws {
        let bench = try SyncBench("sync-destroy")
        try bench.fixture.write("hosts/node1.yaml", mttyManifest(serials: 1, dual: true))
        try bench.fixture.commit("with dual")
        #expect(bench.sync().code == 0)
        try bench.fixture.write("hosts/node1.yaml", mttyManifest(serials: 1))
        let shrink = try bench.fixture.commit("one")
        let before = try bench.snapshot()
        let refused = bench.sync()
        #expect(refused.code == 2)
        #expect(
            errors(refused)
                == "error: refused: commit \(shrink.prefix(12)) would destroy 1 partition ('dual'); "
                + "nothing applied; pass '--yes' to let sync destroy and hot-unplug what the manifest no longer "
                + "declares")
        #expect(try bench.snapshot() == before)
        #expect(bench.sync(["--yes"]).code == 0)
        #expect(try bench.record()?.commit == shrink)
        #expect(bench.planExit(serials: 1) == 0)
    }
}

@Suite("forbc sync: branches and paths")
struct SyncPathCLITests {
    @Test("--branch follows that branch, not the repository's HEAD")
    func branch() throws {
        let bench = try SyncBench("sync-branch")
        try bench.fixture.write("hosts/node1.yaml", mttyManifest(serials: 1))
        let main = try bench.fixture.commit("main")
        try bench.fixture.write("hosts/node1.yaml", mttyManifest(serials: 1, dual: true))
        try bench.fixture.git(["add", "--all"])
        try bench.fixture.git(["commit", "--quiet", "-m", "lab"])
        try bench.fixture.git(["push", "--quiet", "origin", "HEAD:lab"])
        let lab = try bench.fixture.git(["rev-parse", "HEAD"]).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(bench.sync().code == 0)
        #expect(try bench.record()?.commit == main)
        let followed = bench.sync(["--branch", "lab"])
        #expect(followed.code == 0, "\(followed.stderr)")
        #expect(try bench.record()?.commit == lab)
        #expect(try bench.record()?.branch == "lab")
        #expect(bench.planExit(serials: 1, dual: true) == 0)
    }

    @Test("an invalid manifest: its located error, exit 1, the checkout put back and nothing applied")
    func invalidManifest() throws {
        let bench = try SyncBench("sync-invalid")
        try bench.fixture.write("hosts/node1.yaml", mttyManifest(serials: 1))
        try bench.fixture.commit("valid")
        #expect(bench.sync().code == 0)
        try bench.fixture.write("hosts/node1.yaml", mttyManifest(serials: 0))
        try bench.fixture.commit("zero serials")
        let before = try bench.snapshot()
        let failed = bench.sync()
        #expect(failed.code == 1)
        let file = bench.checkout.appendingPathComponent("hosts/node1.yaml").path
        #expect(
            errors(failed)
                == "\(file):8:47: error: 'spec.gpus[0].vgpu[0].count' is 0; it must be between 1 and 1024")
        #expect(try bench.snapshot() == before)
    }

    @Test("a manifest that is a link out of the checkout: refused, the checkout put back")
    func linkOut() throws {
        let bench = try SyncBench("sync-link")
        try bench.fixture.write("hosts/node1.yaml", mttyManifest(serials: 1))
        let first = try bench.fixture.commit("a file")
        #expect(bench.sync().code == 0)
        let outside = writeManifest(mttyManifest(serials: 1, dual: true))
        try FileManager.default.removeItem(at: bench.fixture.work.appendingPathComponent("hosts/node1.yaml"))
        try FileManager.default.createSymbolicLink(
            atPath: bench.fixture.work.appendingPathComponent("hosts/node1.yaml").path, withDestinationPath: outside)
        try bench.fixture.commit("a link")
        let before = try bench.snapshot()
        let refused = bench.sync()
        #expect(refused.code == 2)
        #expect(
            errors(refused)
                == "error: refused: 'hosts/node1.yaml' leads out of the checkout (a symbolic link); nothing applied")
        #expect(try bench.snapshot() == before)
        #expect(before.last?.hasPrefix(first) == true)
    }
}

@Suite("forbc sync --output json")
struct SyncJSONCLITests {
    @Test("one object: the commit, the path, the changes made and the provenance")
    func json() throws {
        let bench = try SyncBench("sync-json")
        try bench.fixture.write("hosts/node1.yaml", mttyManifest(serials: 1))
        let commit = try bench.fixture.commit("one")
        let result = bench.sync(["--output", "json"])
        #expect(result.code == 0, "\(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(object["commit"] as? String == commit)
        #expect(object["previousCommit"] is NSNull)
        #expect(object["path"] as? String == "hosts/node1.yaml")
        #expect(object["repository"] as? String == bench.fixture.bare.path)
        #expect(object["changes"] as? Int == 1)
        #expect((object["done"] as? [[String: Any]])?.map { $0["target"] as? String } == ["serial"])
        #expect((object["source"] as? [String: Any])?["dirty"] as? Bool == false)
    }
}

@Suite("forbc sync: a checkout directory that is not forbc's")
struct SyncCheckoutCLITests {
    @Test("a --checkout that is some other directory, or another repository's checkout: an error, nothing applied")
    func foreignCheckout() throws {
        let bench = try SyncBench("sync-foreign")
        try bench.fixture.write("hosts/node1.yaml", mttyManifest(serials: 1))
        try bench.fixture.commit("one")
        let plain = makeTemporaryDirectory("not-a-checkout").path
        let notGit = bench.sync(["--checkout", plain])
        #expect(notGit.code == 1)
        #expect(
            errors(notGit)
                == "error: \(plain) is not a git checkout forbc can use (it has no '.git'); remove it or pass another "
                + "'--checkout'")
        // The work tree's clone fetches from the bare repository: a checkout of another remote.
        let other = bench.sync(["--checkout", bench.fixture.work.path], repo: bench.fixture.directory.path + "/x.git")
        #expect(other.code == 1)
        #expect(
            errors(other)
                == "error: the checkout \(bench.fixture.work.path) fetches '\(bench.fixture.bare.path)', not "
                + "'\(bench.fixture.directory.path)/x.git'; pass another '--checkout' for this repository, or remove "
                + "that one")
        #expect(try bench.snapshot() == ["absent", "absent", "no checkout"])
    }
}
