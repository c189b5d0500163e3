import ForbcCore
import Foundation

/// Where a scripted tenant's rendezvous files live: the host's file system (`ScriptedProcesses`) or a scripted
/// guest's files (`ScriptedGuestAgent`).
protocol RendezvousFiles: Sendable {
    func append(_ path: String, _ text: String)
    func exists(_ path: String) -> Bool
}

/// The host's files, for tenants played by `ScriptedProcesses`.
struct HostRendezvousFiles: RendezvousFiles {
    /// One `write` to a file opened with O_APPEND|O_CREAT, as the workloads' `open(path, "a")` does: tenants that
    /// append at once never truncate or interleave each other's lines.
    func append(_ path: String, _ text: String) {
        let folder = (path as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }

    func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }
}

extension ScriptedProcesses.Script {
    /// The value after `option` in `arguments` (as the workloads' argparse reads it), if any.
    static func option(_ option: String, in arguments: [String]) -> String? {
        guard let at = arguments.firstIndex(of: option), at + 1 < arguments.count else { return nil }
        return arguments[at + 1]
    }

    /// The tenant index a run was given (`--tenant N`), if it takes part in a release.
    static func tenant(in arguments: [String]) -> Int? {
        guard let folder = option("--sync", in: arguments), !folder.isEmpty else { return nil }
        return option("--tenant", in: arguments).flatMap { Int($0) }
    }

    /// Plays this script's part in forbc's co-tenant release when its arguments carry one (`--sync DIR --tenant N`,
    /// as the workloads' common.py reads them): after `readyAfter` seconds it appends "N TIME" to `DIR/ready`, then
    /// polls for `DIR/go` every millisecond, and prints the line common.py prints once released. A tenant that is
    /// never ready ends at once as `exit` says, or, when that is a time-out, first sleeps through `timeout` as a hung
    /// process would. Returns what it printed, and its ending when that replaces the script's.
    func rendezvous(_ arguments: [String], timeout: Double, files: some RendezvousFiles) -> (String, ProcessExit?) {
        guard let tenant = Self.tenant(in: arguments), let folder = Self.option("--sync", in: arguments) else {
            return ("", nil)
        }
        guard let readyAfter else {
            if exit == .timedOut { Thread.sleep(forTimeInterval: timeout) }
            return ("", exit)
        }
        let deadline = Date().addingTimeInterval(timeout)
        Thread.sleep(forTimeInterval: readyAfter)
        let ready = Date().timeIntervalSince1970
        files.append("\(folder)/ready", String(format: "%d %.6f\n", tenant, ready))
        while !files.exists("\(folder)/go") {
            guard Date() < deadline else { return ("", .timedOut) }
            Thread.sleep(forTimeInterval: 0.001)
        }
        let seen = Date().timeIntervalSince1970
        let line = String(
            format: "{\"event\": \"released\", \"tenant\": %d, \"ready\": %.6f, \"seen\": %.6f}\n", tenant, ready, seen)
        return (line, nil)
    }
}
