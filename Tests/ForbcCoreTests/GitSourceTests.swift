import ForbcCore
import ForbcSimulator
import ForbcTestSupport
import Foundation
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

    @Test("a tracked change anywhere, or an uncommitted manifest, is dirty; no remote names the top level")
    func scriptedDirty() throws {
        var answers = ScriptedGit.workTree(
            topLevel: "/srv/infra", name: "a.yaml", origin: nil, head: nil, status: " M other.yaml\0")
        let changed = try #require(try ManifestSource.lookup(manifest: "/srv/infra/a.yaml", git: ScriptedGit(answers)))
        #expect(changed == ManifestSource(repository: "/srv/infra", commit: nil, path: "a.yaml", dirty: true))
        #expect(changed.summary == "a.yaml with no commit yet in /srv/infra (dirty: uncommitted changes)")
        answers[["status", "--porcelain=v1", "-z", "--untracked-files=no"]] = GitOutput()
        answers[["ls-files", "-z", "--", "a.yaml"]] = GitOutput()
        let untracked = try ManifestSource.lookup(manifest: "/srv/infra/a.yaml", git: ScriptedGit(answers))
        #expect(untracked?.dirty == true)
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
                == "the manifest is in the git work tree \(tree.path), but git is not installed (no 'git' in PATH); "
                + "install it (apt-get install git)")
        let dubious = GitOutput(
            status: 128,
            stderr: "fatal: detected dubious ownership in repository at '/srv/infra'\nTo add an exception for this "
                + "directory, call:\n\n\tgit config --global --add safe.directory /srv/infra\n")
        let owned = #expect(throws: ForbcError.self) {
            try ManifestSource.lookup(
                manifest: "/srv/infra/a.yaml",
                git: ScriptedGit([["rev-parse", "--show-toplevel", "--show-prefix"]: dubious]))
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
