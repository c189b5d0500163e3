import ForbcCommands
import ForbcCore
import ForbcSimulator
import ForbcTestSupport
import Foundation
import Testing

@Suite("forbc sync: credentials in the URL are never shown or recorded")
struct SyncCredentialsCLITests {
    /// A git configuration that sends `https://user:SECRET@git.example/` (and the same with the token OTHER) to
    /// the fixture's directory, as a credential-bearing URL of a real server would be fetched.
    static func rewriting(_ fixture: GitFixture, secret: String) throws -> [String: String] {
        let config = makeTemporaryDirectory("sync-gitconfig").appendingPathComponent("gitconfig")
        let sections = [secret, "OTHER"].map {
            "[url \"\(fixture.directory.path)/\"]\n\tinsteadOf = https://user:\($0)@git.example/\n"
        }
        try sections.joined().write(to: config, atomically: true, encoding: .utf8)
        return ["GIT_CONFIG_GLOBAL": config.path]
    }

    static func sync(_ state: URL, repo: String, _ extra: [String] = [], env: [String: String]) throws
        -> ForbcBinary.Outcome
    {
        try ForbcBinary.run(
            [
                "sync", "--simulate", "mtty", "--state-dir", state.path, "--repo", repo, "--path", "hosts/%H.yaml",
                "--hostname", "node1.lab",
            ] + extra, environment: env)
    }

    static func mode(_ path: String) throws -> Int {
        try (FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? -1
    }

    @Test("the Synced line, --output json, sync.json and a refusal hold no secret; checkout 0700, sync.json 0600")
    func noSecret() throws {
        let fixture = try GitFixture("sync-secret")
        try fixture.write("hosts/node1.yaml", mttyManifest(serials: 1))
        try fixture.commit("one")
        let env = try Self.rewriting(fixture, secret: "SECRET")
        let state = makeTemporaryDirectory("sync-secret-state")
        let bare = fixture.bare.lastPathComponent
        let repo = "https://user:SECRET@git.example/\(bare)"
        let text = try Self.sync(state, repo: repo, env: env)
        #expect(text.code == 0, "\(text.stderr)")
        #expect(text.stdout.contains("of 'https://git.example/\(bare)' (hosts/node1.yaml); 1 change made."))
        try fixture.write("hosts/node1.yaml", mttyManifest(serials: 1, dual: true))
        try fixture.commit("two")
        let json = try Self.sync(state, repo: repo, ["--output", "json"], env: env)
        #expect(json.code == 0, "\(json.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(object["repository"] as? String == "https://git.example/\(bare)")
        let record = state.appendingPathComponent("sync.json")
        let recorded = try String(contentsOf: record, encoding: .utf8)
        #expect(recorded.contains("\"repository\" : \"https://git.example/\(bare)\""))
        // A renewed token for the same repository: the checkout fetches with it from now on; neither is shown.
        let other = try Self.sync(state, repo: "https://user:OTHER@git.example/\(bare)", env: env)
        #expect(other.code == 0, "\(other.stderr)")
        #expect(other.stdout.contains("still at commit"))
        let origin = try GitFixture.git(["-C", state.path + "/sync/checkout", "config", "remote.origin.url"])
        #expect(origin == "https://user:OTHER@git.example/\(bare)\n")
        for shown in [text.stdout, text.stderr, json.stdout, json.stderr, recorded, other.stdout, other.stderr] {
            #expect(!shown.contains("SECRET") && !shown.contains("OTHER"), "\(shown)")
        }
        #expect(try Self.mode(record.path) == 0o600)
        #expect(try Self.mode(state.appendingPathComponent("sync/checkout").path) == 0o700)
    }

    @Test("a fetch that fails: git's error without the secret, exit 1, nothing left behind")
    func failedFetch() throws {
        let state = makeTemporaryDirectory("sync-secret-fail")
        let failed = try Self.sync(state, repo: "https://user:SECRET@127.0.0.1:9/x.git", env: [:])
        #expect(failed.code == 1)
        let error = failed.stderr.split(separator: "\n").filter { !$0.hasPrefix("note: ") }.joined(separator: "\n")
        #expect(error.hasPrefix("error: fetching HEAD of 'https://127.0.0.1:9/x.git' in "), "\(failed.stderr)")
        #expect(!failed.stderr.contains("SECRET") && !failed.stdout.contains("SECRET"), "\(failed.stderr)")
        #expect(!FileManager.default.fileExists(atPath: state.appendingPathComponent("sync/checkout").path))
    }
}

@Suite("forbc sync: never back in history unless --allow-rollback")
struct SyncRollbackCLITests {
    @Test("a force-push back to an older commit is refused (exit 2, nothing applied); --allow-rollback takes it")
    func rollback() throws {
        let bench = try SyncBench("sync-rollback")
        let (key, allowed) = try bench.fixture.signingKey()
        try bench.fixture.write("hosts/node1.yaml", mttyManifest(serials: 1))
        let older = try bench.fixture.commit("A", signingKey: key)
        try bench.fixture.write("hosts/node1.yaml", mttyManifest(serials: 1, dual: true))
        let newer = try bench.fixture.commit("B", signingKey: key)
        let signed = ["--require-signed", "--allowed-signers", allowed]
        #expect(bench.sync(signed).code == 0)
        #expect(try bench.record()?.commit == newer)
        try bench.fixture.git(["push", "--quiet", "--force", "origin", "\(older):refs/heads/main"])
        let before = try bench.snapshot()
        for extra in [[], signed] {
            let refused = bench.sync(extra)
            #expect(refused.code == 2)
            #expect(
                errors(refused)
                    == "error: refused: the last synced commit \(newer.prefix(12)) is not in the history of commit "
                    + "\(older.prefix(12)); going to commit \(older.prefix(12)) of '\(bench.fixture.bare.path)' "
                    + "would go back in history; nothing applied; pass '--allow-rollback' if that is meant")
            #expect(try bench.snapshot() == before)
        }
        #expect(bench.planExit(serials: 1, dual: true) == 0)
        let taken = bench.sync(signed + ["--allow-rollback", "--yes"])
        #expect(taken.code == 0, "\(taken.stderr)")
        #expect(try bench.record()?.commit == older)
        #expect(bench.planExit(serials: 1) == 0)
    }

    @Test("a recorded commit the repository no longer has (history rewritten): refused, saying so")
    func rewritten() throws {
        let bench = try SyncBench("sync-rewritten")
        try bench.fixture.write("hosts/node1.yaml", mttyManifest(serials: 1))
        try bench.fixture.commit("A")
        #expect(bench.sync().code == 0)
        let gone = String(repeating: "ab", count: 20)
        var record = try #require(try bench.record())
        record.commit = gone
        try record.save(in: StateStore(directory: bench.cli.stateDir))
        let head = try bench.fixture.git(["rev-parse", "HEAD"]).trimmingCharacters(in: .whitespacesAndNewlines)
        let refused = bench.sync()
        #expect(refused.code == 2)
        #expect(
            errors(refused)
                == "error: refused: the last synced commit \(gone.prefix(12)) no longer exists in "
                + "'\(bench.fixture.bare.path)' (its history was rewritten, or another repository is named); going to "
                + "commit \(head.prefix(12)) of '\(bench.fixture.bare.path)' would go back in history; nothing "
                + "applied; pass '--allow-rollback' if that is meant")
        #expect(bench.sync(["--allow-rollback"]).code == 0)
        #expect(try bench.record()?.commit == head)
    }
}

@Suite("SyncCheckout.requireDescendant through the scripted git seam")
struct SyncDescendantTests {
    func checkout(_ answer: GitOutput) -> (SyncCheckout, ScriptedGit) {
        let git = ScriptedGit([["merge-base", "--is-ancestor", "aaaa", "bbbb"]: answer])
        return (SyncCheckout(git: git, directory: "/x/checkout", remote: "https://u:SECRET@h/r.git"), git)
    }

    @Test("an ancestor passes; not an ancestor or an unknown commit is a refusal without the secret; else an error")
    func answers() throws {
        try checkout(GitOutput(status: 0)).0.requireDescendant(of: "aaaa", "bbbb")
        #expect(throws: SyncRefused.self) {
            try checkout(GitOutput(status: 1)).0.requireDescendant(of: "aaaa", "bbbb")
        }
        let unknown = checkout(GitOutput(status: 128, stderr: "fatal: Not a valid commit name aaaa\n")).0
        let refusal = try #require(throws: SyncRefused.self) { try unknown.requireDescendant(of: "aaaa", "bbbb") }
        #expect(refusal.message.contains("aaaa no longer exists in 'https://h/r.git'"))
        #expect(!refusal.message.contains("SECRET"))
        let broken = checkout(GitOutput(status: 129, stderr: "usage: git merge-base\n")).0
        #expect(throws: ForbcError.self) { try broken.requireDescendant(of: "aaaa", "bbbb") }
        // An edited record that is no commit name never reaches git as an argument.
        let (edited, git) = checkout(GitOutput(status: 0))
        #expect(throws: SyncRefused.self) { try edited.requireDescendant(of: "--output=/tmp/x", "bbbb") }
        #expect(git.calls.isEmpty)
        try edited.requireDescendant(of: "bbbb", "bbbb")
    }
}
