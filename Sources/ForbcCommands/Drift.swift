import ArgumentParser
import ForbcCore
import Foundation

/// `forbc drift FILE`: 0 in sync, 2 drift, 1 error; Prometheus textfile metrics on request.
struct Drift: HostCommand {
    static let configuration = CommandConfiguration(
        commandName: "drift",
        abstract: "Tell whether the host still matches the manifest (exit 0 in sync, 2 drift, 1 error).",
        discussion: """
            Examples:
              forbc drift host.yaml
              forbc drift host.yaml --metrics /var/lib/node_exporter/textfile/forbc.prom
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The manifest.", valueName: "FILE"))
    var file: String

    @Option(
        help: ArgumentHelp(
            "Write Prometheus text-format metrics to this file (for node_exporter's textfile collector).",
            valueName: "FILE"))
    var metrics: String?

    func execute() throws {
        let report: DriftReport
        var loaded: Manifest?
        do {
            let manifest = try loadTrackedManifest(file)
            loaded = manifest
            let host = try global.openHost()
            report = DriftReport(plan: try host.plan(manifest), manifest: manifest)
        } catch {
            // Once the manifest is read, the failed check keeps the labels of the successful ones (host and
            // manifest), so its success and timestamp series go on rather than starting new ones.
            if let metrics {
                let failed = DriftReport.failedPrometheus(host: loaded?.name ?? "", manifest: loaded?.file ?? file)
                try? writeMetrics(failed, to: metrics)
            }
            throw error
        }
        if let metrics { try writeMetrics(report.prometheus(), to: metrics) }
        if global.json {
            Console.current.out(try Render.json(encodable: report))
        } else if report.inSync {
            Console.current.out(
                "In sync: host '\(report.host)'\(report.simulated ? " (simulated)" : "") matches \(file).")
        } else {
            Console.current.out(
                "Drift: host '\(report.host)'\(report.simulated ? " (simulated)" : "") differs from \(file) in "
                    + "\(report.items.count) partition\(report.items.count == 1 ? "" : "s"):"
            )
            for item in report.items { Console.current.out("  \(item.kind) '\(item.partition)': \(item.detail)") }
        }
        if !global.json { for note in report.notes ?? [] { Console.current.out("Note: \(note).") } }
        if !report.inSync { throw ExitCode(2) }
    }

    /// Written beside the target (under a name that does not end in .prom) and renamed, so a collector never reads
    /// half a file; readable by all, whatever the umask, since node_exporter runs as its own user.
    func writeMetrics(_ text: String, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        do {
            try AtomicFile.writeOutput(Data(text.utf8), to: url, mode: 0o644)
        } catch let error as ForbcError {
            // A missing or read-only folder has the usual remedy; a FIFO nobody reads or a directory, its own.
            let folder = [Errno.ENOENT, Errno.EACCES, Errno.EPERM, Errno.EROFS, Errno.ENOSPC].contains(error.errno ?? 0)
            let reason =
                folder
                ? "\(Errno.describe(error.errno ?? 0)); check that its directory exists and is writable" : error.message
            throw ForbcError(
                .system, "writing metrics to \(path) failed: \(reason)", path: path, errno: error.errno, cause: error)
        }
    }
}
