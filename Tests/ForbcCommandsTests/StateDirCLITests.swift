import ForbcCore
import ForbcTestSupport
import Foundation
import Testing

/// A torn journal, links planted in the state dir and outputs that are not regular files, through the built binary
/// (a SIGKILL mid-apply is an exit status there, not a lost test run).
@Suite("the state dir and output files on the command line")
struct StateDirCLITests {
    let state = makeTemporaryDirectory("state-cli")

    /// Runs the built forbc's `command` on the simulated T4 host kept in `state`.
    func forbc(_ command: String, _ arguments: [String], environment: [String: String] = [:]) throws
        -> ForbcBinary.Outcome
    {
        try ForbcBinary.run(
            [command, "--simulate", "nvidia-t4", "--state-dir", state.path] + arguments, environment: environment)
    }

    /// Leaves half an entry at the end of the state dir's journals, as a kill or a full disk mid-write does.
    func tear() throws {
        for name in ["state.journal", "simulated-host.journal"] {
            let url = state.appendingPathComponent(name)
            if !FileManager.default.fileExists(atPath: url.path) { try Data().write(to: url) }
            let handle = try FileHandle(forWritingTo: url)
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(#"{"record":{"address":"0000:3b"#.utf8))
            try handle.close()
        }
    }

    @Test("a torn journal then a killed apply: later commands work and nothing recorded is lost")
    func tornJournalThenKill() throws {
        let quickstart = RepositoryPaths.manifest("quickstart")
        let smaller = writeManifest(
            try String(contentsOfFile: quickstart, encoding: .utf8)
                .replacingOccurrences(of: "count: 4}", with: "count: 2}")
                .replacingOccurrences(of: "desk-1, ", with: ""))
        #expect(try forbc("apply", [smaller, "--yes"]).code == 0)
        try tear()
        let killed = try forbc("apply", [quickstart, "--yes"], environment: ["FORBC_SIMULATE_KILL_AFTER_WRITES": "1"])
        #expect(killed.signalled && killed.code == SIGKILL, "\(killed)")
        let journal = try String(contentsOfFile: state.appendingPathComponent("state.journal").path, encoding: .utf8)
        #expect(journal.hasPrefix("{\"record\":{\"_0\":{"), "the torn bytes were cut: \(journal)")
        try tear()
        let drift = try forbc("drift", [quickstart])
        #expect(drift.code == 2, "\(drift)")
        let apply = try forbc("apply", [quickstart, "--yes"])
        #expect(apply.code == 0, "\(apply)")
        #expect(apply.stderr.contains("state.journal ended in an entry never completed"), "\(apply.stderr)")
        #expect(try forbc("drift", [quickstart]).code == 0)
        let names = try StateStore(directory: state).load().partitions.map(\.name).sorted()
        #expect(names == ["desk-0", "desk-1", "desk-2", "desk-3", "ml-0", "ml-1"])
    }

    @Test("a link in the state dir is refused by name and what it names is untouched")
    func linkInStateDir() throws {
        let victim = makeTemporaryDirectory("victim").appendingPathComponent("v")
        try Data("DATA\n".utf8).write(to: victim)
        for name in ["apply.lock", "state.journal"] {
            let link = state.appendingPathComponent(name).path
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: victim.path)
            let result = try forbc("apply", [RepositoryPaths.manifest("quickstart"), "--yes"])
            #expect(result.code == 1)
            #expect(result.stderr.contains("\(link) is a symbolic link; forbc does not follow links"), "\(result)")
            #expect(try String(contentsOf: victim, encoding: .utf8) == "DATA\n")
            try FileManager.default.removeItem(atPath: link)
        }
        let database = state.appendingPathComponent("bench.sqlite").path
        try FileManager.default.createSymbolicLink(atPath: database, withDestinationPath: victim.path)
        let export = try ForbcBinary.run(["bench", "export", "--state-dir", state.path])
        #expect(export.code == 1)
        #expect(export.stderr.contains("\(database) is a symbolic link; forbc does not follow links"), "\(export)")
        #expect(try String(contentsOf: victim, encoding: .utf8) == "DATA\n")
    }

    @Test("--metrics through a link to this process's stdout prints; --out through a link keeps the link")
    func outputsThroughLinks() throws {
        let top = makeTemporaryDirectory("outputs")
        let stdout = top.appendingPathComponent("stdout").path
        try FileManager.default.createSymbolicLink(atPath: stdout, withDestinationPath: "/proc/self/fd/1")
        let drift = try forbc("drift", [RepositoryPaths.manifest("quickstart"), "--metrics", stdout])
        #expect(drift.code == 2)
        #expect(drift.stdout.contains("forbc_drift_check_success{"), "\(drift)")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: stdout) == "/proc/self/fd/1")
        // Stdout redirected to a file with '>>': the metrics are appended to it, its earlier lines kept, the file
        // not replaced (a rename would also lose every line forbc prints after it).
        let log = top.appendingPathComponent("log").path
        try Data("earlier\n".utf8).write(to: URL(fileURLWithPath: log))
        var before = stat()
        #expect(stat(log, &before) == 0)
        for target in ["/dev/stdout", stdout] {
            let arguments = [
                "drift", RepositoryPaths.manifest("quickstart"), "--simulate", "nvidia-t4", "--state-dir",
                top.appendingPathComponent("s").path, "--metrics", target,
            ]
            let shell = try ForbcBinary.start(
                ["-c", "exec \"$0\" \"$@\" >> \(log)", ForbcBinary.path] + arguments, program: "/bin/sh"
            ).wait()
            #expect(shell.code == 2, "\(shell)")
        }
        var after = stat()
        #expect(stat(log, &after) == 0 && after.st_ino == before.st_ino)
        let text = try String(contentsOfFile: log, encoding: .utf8)
        #expect(text.hasPrefix("earlier\n"))
        #expect(text.components(separatedBy: "forbc_drift_check_success{").count == 3, "\(text)")
        // A FIFO nobody reads: an error at once, and it stays a FIFO.
        let fifo = top.appendingPathComponent("fifo").path
        #expect(mkfifo(fifo, 0o600) == 0)
        let unread = try forbc("drift", [RepositoryPaths.manifest("quickstart"), "--metrics", fifo])
        #expect(unread.code == 1)
        #expect(
            unread.stderr.contains(
                "error: writing metrics to \(fifo) failed: opening \(fifo) failed: no such device or address (ENXIO); "
                    + "nothing is reading it"), "\(unread.stderr)")
        var status = stat()
        #expect(lstat(fifo, &status) == 0 && status.st_mode & S_IFMT == S_IFIFO)

        let target = top.appendingPathComponent("results.jsonl").path
        let link = top.appendingPathComponent("out").path
        try Data("old".utf8).write(to: URL(fileURLWithPath: target))
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
        let export = try ForbcBinary.run(["bench", "export", "--state-dir", state.path, "--out", link])
        #expect(export.code == 0, "\(export)")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link) == target)
        #expect(try String(contentsOfFile: target, encoding: .utf8) != "old")
    }
}
