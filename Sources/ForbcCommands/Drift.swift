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
        do {
            let manifest = try loadTrackedManifest(file)
            let host = try global.openHost()
            report = DriftReport(plan: try host.plan(manifest), manifest: manifest)
        } catch {
            if let metrics { try? writeMetrics(DriftReport.failedPrometheus(host: "", manifest: file), to: metrics) }
            throw error
        }
        if let metrics { try writeMetrics(report.prometheus(), to: metrics) }
        if global.json {
            Console.current.out(Render.json(encodable: report))
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
        if !report.inSync { throw ExitCode(2) }
    }

    /// Written beside the target and renamed, so a collector never reads half a file.
    func writeMetrics(_ text: String, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        do {
            try Data(text.utf8).write(to: url, options: .atomic)
        } catch {
            throw ForbcError(.system, "writing metrics to \(path) failed: \(error.localizedDescription)")
        }
    }
}
