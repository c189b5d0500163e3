import ForbcCore
import ForbcTestSupport
import Foundation
import Testing

/// Runs `program` with `arguments` (the forbc binary behind a shell, `unshare`, `timeout`…), `environment` added
/// to this process's, to its end.
func spawnToEnd(_ program: String, _ arguments: [String], environment: [String: String] = [:]) throws
    -> ForbcBinary.Outcome
{
    try ForbcBinary.start(arguments, environment: environment, program: program).wait()
}

@Suite("git provenance from the forbc binary: inherited SIGCHLD, no loopback, a git that never ends")
struct ProvenanceProcessTests {
    /// A committed manifest in a work tree without a remote: (its path, the work tree, the commit).
    static func tree(_ label: String) throws -> (manifest: String, work: String, commit: String) {
        let fixture = try GitFixture(label)
        try fixture.git(["remote", "remove", "origin"])
        try fixture.write("hosts/node1.yaml", mttyManifest(serials: 1))
        try fixture.git(["add", "--all"])
        try fixture.git(["commit", "--quiet", "-m", "node1"])
        let commit = try fixture.git(["rev-parse", "HEAD"]).trimmingCharacters(in: .whitespacesAndNewlines)
        return (fixture.work.appendingPathComponent("hosts/node1.yaml").path, fixture.work.path, commit)
    }

    static func plan(_ manifest: String) -> [String] {
        [
            ForbcBinary.path, "plan", manifest, "--simulate", "mtty", "--state-dir",
            makeTemporaryDirectory("sigchld").path,
        ]
    }

    @Test("SIGCHLD inherited ignored: git's exit statuses still count (no remote names the top level, not '')")
    func sigchldIgnored() throws {
        let (manifest, work, commit) = try Self.tree("provenance-sigchld")
        // `trap '' CHLD` makes the shell ignore SIGCHLD, and an ignored signal stays ignored across exec.
        let outcome = try spawnToEnd("/bin/bash", ["-c", "trap '' CHLD; exec \"$@\"", "bash"] + Self.plan(manifest))
        #expect(outcome.code == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.hasSuffix("Source: hosts/node1.yaml at \(commit.prefix(12)) in \(work)\n"))
    }

    @Test(
        "no loopback interface (a network namespace of its own, as the kernel lab's guest): plan ends, with Source",
        .enabled(
            if: (try? spawnToEnd("/usr/bin/unshare", ["-n", "true"]).code) == 0,
            "needs 'unshare -n' (root, util-linux) to run forbc without a loopback interface"))
    func noLoopback() throws {
        let (manifest, work, commit) = try Self.tree("provenance-netns")
        // Through Foundation's Process, git's second run was never seen to end here (forbc waited 300 s).
        let outcome = try spawnToEnd("/usr/bin/timeout", ["60", "/usr/bin/unshare", "-n"] + Self.plan(manifest))
        #expect(outcome.code == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.hasSuffix("Source: hosts/node1.yaml at \(commit.prefix(12)) in \(work)\n"))
    }

    @Test("a git run that never ends: stopped at 5 s with what it started, a warning naming it and the manifest")
    func gitNeverEnds() throws {
        let (manifest, work, _) = try Self.tree("provenance-stall")
        let real = try #require(RealGit().executable)
        let bin = makeTemporaryDirectory("stalling-git")
        let child = bin.appendingPathComponent("sleep.pid").path
        // A git whose status starts a child that would outlive it, and waits for it; every other run is git's.
        let script = """
            #!/bin/sh
            case " $* " in *" status "*) sleep 60 & echo $! > \(child); wait; exit 0;; esac
            exec \(real) "$@"

            """
        let git = bin.appendingPathComponent("git").path
        try script.write(toFile: git, atomically: true, encoding: .utf8)
        #expect(chmod(git, 0o755) == 0)
        let path = bin.path + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        let outcome = try spawnToEnd(
            ForbcBinary.path, Array(Self.plan(manifest).dropFirst()), environment: ["PATH": path])
        #expect(outcome.code == 0)
        #expect(!outcome.stdout.contains("Source:"))
        let run =
            "git -C \(work)/hosts -c core.fsmonitor=false status --porcelain=v1 -z --untracked-files=all "
            + "--ignored=matching -- :(literal)node1.yaml"
        #expect(
            outcome.stderr.contains(
                "warning: provenance not recorded: the manifest \(manifest) is in the git work tree \(work), but "
                    + "'\(run)' did not end within 5 s and was stopped\n"), "\(outcome.stderr)")
        // The child git started was stopped with it (gone, or a zombie nobody reaped yet).
        let pid = try String(contentsOfFile: child, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        #expect(stat.isEmpty || stat.contains(") Z "), "\(stat)")
    }
}
