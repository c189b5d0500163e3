import ForbcCore
import ForbcSimulator
import ForbcTestSupport
import Foundation
import Synchronization
import Testing

@Suite("git provenance and the sync path, through the git seam")
struct GitSourceTests {
    static let head = "0123456789abcdef0123456789abcdef01234567"

    @Test("a clean work tree: origin without its credentials, HEAD, the path inside the repository")
    func scriptedClean() throws {
        let git = ScriptedGit(
            ScriptedGit.workTree(
                topLevel: "/srv/infra", prefix: "hosts/", name: "a.yaml",
                origin: "https://deploy:s3cret@git.example/infra.git", head: Self.head))
        let source = try #require(try ManifestSource.lookup(manifest: "/srv/infra/hosts/a.yaml", git: git))
        #expect(
            source
                == ManifestSource(
                    repository: "https://git.example/infra.git", commit: Self.head, path: "hosts/a.yaml", dirty: false))
        #expect(source.summary == "hosts/a.yaml at 0123456789ab in https://git.example/infra.git")
        #expect(git.calls.allSatisfy { $0.prefix(2) == ["-C", "/srv/infra/hosts"] })
    }

    @Test("the manifest changed, staged, untracked or ignored is dirty; no remote names the top level")
    func scriptedDirty() throws {
        for status in [" M a.yaml\0", "M  a.yaml\0", "A  a.yaml\0", "?? a.yaml\0", "!! a.yaml\0"] {
            let answers = ScriptedGit.workTree(
                topLevel: "/srv/infra", name: "a.yaml", origin: nil, head: nil, status: status)
            let changed = try #require(
                try ManifestSource.lookup(manifest: "/srv/infra/a.yaml", git: ScriptedGit(answers)))
            #expect(changed == ManifestSource(repository: "/srv/infra", commit: nil, path: "a.yaml", dirty: true))
            #expect(changed.summary == "a.yaml with no commit yet in /srv/infra (dirty: uncommitted changes)")
        }
        var answers = ScriptedGit.workTree(topLevel: "/srv/infra", name: "a.yaml", origin: nil, head: Self.head)
        answers[ScriptedGit.remotes] = GitOutput(
            stdout: "remote.zeta.url https://z.example/r.git\nremote.alpha.url https://tok@a.example/r.git\n")
        let source = try ManifestSource.lookup(manifest: "/srv/infra/a.yaml", git: ScriptedGit(answers))
        #expect(source?.repository == "https://a.example/r.git")
        #expect(source?.dirty == false)
    }

    @Test("provenance is three git runs with a deadline of a few seconds, whatever the work tree holds")
    func scriptedBounded() throws {
        let git = ScriptedGit(
            ScriptedGit.workTree(topLevel: "/srv/infra", prefix: "hosts/", name: "a.yaml", origin: nil, head: nil))
        _ = try ManifestSource.lookup(manifest: "/srv/infra/hosts/a.yaml", git: git)
        #expect(
            git.calls.map { Array($0.dropFirst(2)) } == [
                ScriptedGit.place, ScriptedGit.status(of: "a.yaml"), ScriptedGit.remotes,
            ])
        #expect(git.deadlines == [5, 5, 5])
    }

    @Test("a git run past its deadline: an error naming the run and the manifest, and no further run")
    func scriptedDeadline() throws {
        let answers = ScriptedGit.workTree(topLevel: "/srv/infra", name: "a.yaml", origin: nil, head: Self.head)
        let git = ScriptedGit(answers, stalls: [ScriptedGit.status(of: "a.yaml")])
        let error = #expect(throws: ForbcError.self) {
            try ManifestSource.lookup(manifest: "/srv/infra/a.yaml", git: git, deadline: 2)
        }
        let run = (["-C", "/srv/infra"] + ScriptedGit.status(of: "a.yaml")).joined(separator: " ")
        #expect(
            error?.message
                == "the manifest /srv/infra/a.yaml is in the git work tree /srv/infra, but 'git \(run)' did not end "
                + "within 2 s and was stopped")
        #expect(git.calls.count == 2)
    }

    @Test("not in a work tree: no provenance and no error, with git or without it")
    func notATree() throws {
        let outside = makeTemporaryDirectory("no-git").appendingPathComponent("m.yaml").path
        #expect(try ManifestSource.lookup(manifest: outside, git: ScriptedGit([:])) == nil)
        #expect(try ManifestSource.lookup(manifest: outside, git: ScriptedGit([:], missing: true)) == nil)
    }

    @Test("in a work tree without git, or in one git refuses for its owner: an error that says what to do")
    func refusals() throws {
        let tree = makeTemporaryDirectory("tree")
        try FileManager.default.createDirectory(
            at: tree.appendingPathComponent(".git"), withIntermediateDirectories: true)
        let manifest = tree.appendingPathComponent("m.yaml").path
        let missing = #expect(throws: ForbcError.self) {
            try ManifestSource.lookup(manifest: manifest, git: ScriptedGit([:], missing: true))
        }
        #expect(
            missing?.message
                == "the manifest \(manifest) is in the git work tree \(tree.path), but git is not installed (no 'git' "
                + "in PATH); install it (apt-get install git)")
        let dubious = GitOutput(
            status: 128,
            stderr: "fatal: detected dubious ownership in repository at '/srv/infra'\nTo add an exception for this "
                + "directory, call:\n\n\tgit config --global --add safe.directory /srv/infra\n")
        let owned = #expect(throws: ForbcError.self) {
            try ManifestSource.lookup(
                manifest: "/srv/infra/a.yaml",
                git: ScriptedGit([ScriptedGit.place: dubious]))
        }
        #expect(
            owned?.message
                == "reading the repository of /srv/infra/a.yaml failed: git refuses the repository at /srv/infra: "
                + "it is owned by another user ('safe.directory'); if you trust it, run 'git config --global --add "
                + "safe.directory /srv/infra' as the user forbc runs as")
    }

    @Test("the real git: a clean and a dirty work tree, and a real git that is not installed")
    func realGit() throws {
        let fixture = try GitFixture("provenance")
        try fixture.write("hosts/a.yaml", "apiVersion: forbc/v1\n")
        let commit = try fixture.commit("a")
        let path = fixture.work.appendingPathComponent("hosts/a.yaml").path
        let clean = try ManifestSource.lookup(manifest: path, git: RealGit())
        #expect(
            clean == ManifestSource(repository: fixture.bare.path, commit: commit, path: "hosts/a.yaml", dirty: false))
        try fixture.write("hosts/a.yaml", "apiVersion: forbc/v1\n# edited\n")
        #expect(try ManifestSource.lookup(manifest: path, git: RealGit())?.dirty == true)
        let noGit = RealGit(searchPath: makeTemporaryDirectory("empty-path").path)
        #expect(noGit.executable == nil)
        #expect(throws: ForbcError.self) { try noGit.run(["--version"]) }
    }

    @Test("a remote whose url is given twice is named by its last value, as 'git config --get' reads it")
    func lastRemoteURL() throws {
        let fixture = try GitFixture("provenance-two-urls")
        try fixture.write("hosts/a.yaml", "apiVersion: forbc/v1\n")
        try fixture.commit("a")
        try fixture.git(["config", "--add", "remote.origin.url", "https://example.com/second.git"])
        #expect(try fixture.git(["config", "--get", "remote.origin.url"]) == "https://example.com/second.git\n")
        let path = fixture.work.appendingPathComponent("hosts/a.yaml").path
        #expect(
            try ManifestSource.lookup(manifest: path, git: RealGit())?.repository == "https://example.com/second.git")
    }

    @Test("the real git: dirty is about the manifest alone, changed, staged, untracked or ignored")
    func realDirty() throws {
        let fixture = try GitFixture("provenance-dirty")
        try fixture.write("hosts/a.yaml", "apiVersion: forbc/v1\n")
        try fixture.write("other.txt", "x\n")
        try fixture.commit("a")
        let path = fixture.work.appendingPathComponent("hosts/a.yaml").path
        func dirty(_ manifest: String = "hosts/a.yaml") throws -> Bool? {
            try ManifestSource.lookup(manifest: fixture.work.appendingPathComponent(manifest).path, git: RealGit())?
                .dirty
        }
        try fixture.write("other.txt", "changed\n")
        try fixture.write("untracked.txt", "new\n")
        #expect(try dirty() == false)
        try fixture.write("hosts/a.yaml", "apiVersion: forbc/v1\n# staged\n")
        try fixture.git(["add", path])
        #expect(try dirty() == true)
        try fixture.git(["commit", "--quiet", "-m", "b"])
        #expect(try dirty() == false)
        try fixture.write("hosts/[b].yaml", "apiVersion: forbc/v1\n")
        #expect(try dirty("hosts/[b].yaml") == true)
        try fixture.write(".gitignore", "ignored.yaml\n")
        try fixture.write("hosts/ignored.yaml", "apiVersion: forbc/v1\n")
        #expect(try dirty("hosts/ignored.yaml") == true)
    }

    @Test("the real git reads the manifest alone: a work tree of many files whose cached stat data are stale")
    func realBounded() throws {
        let fixture = try GitFixture("provenance-many")
        try fixture.write("hosts/a.yaml", "apiVersion: forbc/v1\n")
        for index in 0..<300 { try fixture.write("data/f\(index).txt", String(repeating: "\(index)\n", count: 64)) }
        try fixture.commit("many")
        // A copy has new inode numbers and change times: the index's stat data no longer match any file, as
        // under the kernel lab's overlay, so a whole-tree status would read and hash all 301 files on each run.
        let copy = fixture.directory.appendingPathComponent("copy")
        try FileManager.default.copyItem(at: fixture.work, to: copy)
        let trace = fixture.directory.appendingPathComponent("trace2.json")
        var real = RealGit()
        real.extraEnvironment = ["GIT_TRACE2_EVENT": trace.path]
        let git = CountingGit(real)
        let source = try ManifestSource.lookup(manifest: copy.appendingPathComponent("hosts/a.yaml").path, git: git)
        #expect(source?.dirty == false)
        #expect(git.count == 3)
        #expect(try Self.scanned(trace) == [1])
        // The same trace of a whole-tree status shows what the bound saves (and that the trace can tell).
        try FileManager.default.removeItem(at: trace)
        _ = try real.run(["-C", copy.path, "status", "--porcelain", "--untracked-files=no"])
        #expect(try Self.scanned(trace) == [301])
    }

    @Test("the real git past its deadline: stopped, with the shell it started, and an error naming the run")
    func realDeadline() throws {
        let arguments = ["-c", "alias.wait=!sleep 30", "wait"]
        let error = #expect(throws: ForbcError.self) { try RealGit(timeout: 0.5).run(arguments) }
        #expect(error?.message == "'git -c alias.wait=!sleep 30 wait' did not end within 0.5 s and was stopped")
    }

    /// The files each git run of a GIT_TRACE2_EVENT trace looked at while refreshing the index.
    static func scanned(_ trace: URL) throws -> [Int] {
        try String(contentsOf: trace, encoding: .utf8).split(separator: "\n").compactMap { line in
            guard line.contains("\"key\":\"refresh/sum_scan\"") else { return nil }
            guard let value = line.range(of: "\"value\":\"") else { return nil }
            return Int(line[value.upperBound...].prefix { $0.isNumber })
        }
    }

    @Test(
        "--path templates",
        arguments: [
            ("hosts/%H.yaml", "gpu-01.lab.example", "hosts/gpu-01.yaml"),
            ("hosts/%h.yaml", "gpu-01.lab.example", "hosts/gpu-01.lab.example.yaml"),
            ("100%%/%H", "n1", "100%/n1"),
            ("fleet.yaml", "n1", "fleet.yaml"),
        ])
    func paths(template: String, hostname: String, expected: String) throws {
        #expect(try SyncPath.resolve(template, hostname: hostname) == expected)
    }

    @Test(
        "--path templates that are refused",
        arguments: [
            (
                "hosts/%x.yaml", "n1",
                "'--path hosts/%x.yaml': '%x' stands for nothing; use %H (short host name), %h "
                    + "(host name) or %% (a percent sign)"
            ),
            (
                "../%H.yaml", "n1",
                "'--path ../%H.yaml' gives '../n1.yaml', which is not a plain path inside the "
                    + "repository (no leading '/', no '.' or '..', no empty part)"
            ),
            (
                "/etc/%H", "n1",
                "'--path /etc/%H' gives '/etc/n1', which is not a plain path inside the repository "
                    + "(no leading '/', no '.' or '..', no empty part)"
            ),
            ("hosts/%H.yaml", "a/b", "the host name 'a/b' cannot be part of a path; pass '--hostname'"),
        ])
    func badPaths(template: String, hostname: String, expected: String) {
        let error = #expect(throws: ForbcError.self) { try SyncPath.resolve(template, hostname: hostname) }
        #expect(error?.message == expected)
    }

    @Test("git's words: the first message lines without their prefixes, not the advice after a blank line")
    func words() {
        let output = GitOutput(
            status: 128,
            stderr: "fatal: '/x' does not appear to be a git repository\nfatal: Could not read from remote "
                + "repository.\n\nPlease make sure you have the correct access rights\n")
        #expect(output.words == "'/x' does not appear to be a git repository; Could not read from remote repository.")
        #expect(GitOutput(status: 1).words == "exit status 1, no message")
    }

    @Test("credentials are dropped from a repository URL; an ssh account name is kept")
    func credentials() {
        #expect(ManifestSource.withoutCredentials("https://u:p@h/r.git") == "https://h/r.git")
        #expect(ManifestSource.withoutCredentials("https://token@h/r.git") == "https://h/r.git")
        #expect(ManifestSource.withoutCredentials("ssh://git@h/r.git") == "ssh://git@h/r.git")
        #expect(ManifestSource.withoutCredentials("git@h:r.git") == "git@h:r.git")
        #expect(ManifestSource.withoutCredentials("/srv/r.git") == "/srv/r.git")
        #expect(ManifestSource.withoutCredentials("git+ssh://git@h/r.git") == "git+ssh://git@h/r.git")
        #expect(ManifestSource.withoutCredentials("ssh://u:p@h/r.git") == "ssh://h/r.git")
        #expect(ManifestSource.withoutCredentials("https://u:p@h") == "https://h")
    }

    @Test("a message quoting URLs loses every credential in it, and nothing else")
    func credentialsInText() {
        let message =
            "fetching HEAD of 'https://u:SECRET@127.0.0.1:9/x.git' failed: unable to access "
            + "'https://u:SECRET@127.0.0.1:9/x.git/': Failed to connect; see ssh://git@h/r and http://tok@h2 now"
        #expect(
            ManifestSource.withoutCredentials(message)
                == "fetching HEAD of 'https://127.0.0.1:9/x.git' failed: unable to access "
                + "'https://127.0.0.1:9/x.git/': Failed to connect; see ssh://git@h/r and http://h2 now")
        #expect(ManifestSource.withoutCredentials("no URL: a@b://") == "no URL: a@b://")
    }
}

/// A git channel that counts the runs of the one it wraps (its limited copies' included).
struct CountingGit: GitChannel {
    final class Counter: Sendable { let runs = Mutex(0) }

    let inner: any GitChannel
    let counter: Counter

    init(_ inner: any GitChannel, counter: Counter = Counter()) {
        self.inner = inner
        self.counter = counter
    }

    var count: Int { counter.runs.withLock { $0 } }

    func run(_ arguments: [String]) throws -> GitOutput {
        counter.runs.withLock { $0 += 1 }
        return try inner.run(arguments)
    }

    func mayBeInWorkTree(_ directory: String) -> Bool { inner.mayBeInWorkTree(directory) }

    func limited(to seconds: Double) -> any GitChannel { CountingGit(inner.limited(to: seconds), counter: counter) }
}
