import ArgumentParser
import ForbcCore
import Foundation

extension Sync {
    /// The last lines: what the host now runs, from where.
    func summarize(
        _ plan: Plan, report: Applier.Report, commit: String, previous: String?, path: String, remote: String
    ) throws {
        let console = Console.current
        if global.json {
            var object: [String: Any] = [
                "host": plan.host, "simulated": plan.simulated, "repository": remote, "path": path, "commit": commit,
                "previousCommit": previous.map { $0 as Any } ?? NSNull(), "changes": report.done.count,
                "done": report.done.map(Render.dictionary), "alreadyDone": report.alreadyDone.map(Render.dictionary),
            ]
            if let branch { object["branch"] = branch }
            if let source = plan.source { object["source"] = Render.dictionary(source) }
            console.out(try Render.json(object))
            return
        }
        let name = "host '\(plan.host)'\(plan.simulated ? " (simulated)" : "")"
        let moved = previous == commit ? "still at" : previous.map { "moved from \($0.prefix(12)) to" } ?? "now at"
        let synced = "Synced: \(name) \(moved) commit \(commit.prefix(12)) of '\(remote)' (\(path))"
        if plan.isEmpty {
            console.out("\(synced); no changes needed.")
        } else {
            console.out(Render.reportText(report, total: plan.actions.count))
            console.out("\(synced); \(report.done.count) change\(report.done.count == 1 ? "" : "s") made.")
        }
    }

    /// This machine's host name, as the kernel has it.
    static func systemHostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `path` made absolute against the working directory.
    static func absolute(_ path: String) -> String { URL(fileURLWithPath: path).standardizedFileURL.path }

    /// The repository as git should fetch it: a URL (scheme://… or scp-like host:path) as given, a local
    /// path made absolute (the checkout's origin must not depend on where forbc was started).
    static func remote(_ repo: String) -> String {
        if repo.contains("://") { return repo }
        if let colon = repo.firstIndex(of: ":"), !repo[..<colon].contains("/") { return repo }
        return absolute(repo)
    }
}
