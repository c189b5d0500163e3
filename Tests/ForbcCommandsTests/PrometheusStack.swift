import Foundation
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// A real node_exporter (textfile collector only) and a real Prometheus scraping it, both on free loopback ports with
/// their own directories under `directory`, for one test. Prometheus scrapes and evaluates every second and loads
/// the shipped rules with every `for:` shortened to 2 s (operators keep 10 minutes; the test cannot wait that long),
/// plus one recording rule at the end of the group that counts the evaluations that saw forbc's metrics. Run as
/// root, node_exporter runs as nobody (Debian runs it as prometheus), so it reads forbc's file as another user.
final class PrometheusStack: @unchecked Sendable {
    let textfiles: URL
    let api: API
    private let directory: URL
    private var daemons: [Daemon] = []

    init(directory: URL, rules: String) throws {
        self.directory = directory
        textfiles = directory.appendingPathComponent("textfile")
        try FileManager.default.createDirectory(at: textfiles, withIntermediateDirectories: true)
        for folder in [directory, textfiles] {
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: folder.path)
        }
        let exporterPort = try PrometheusTools.freePort()
        daemons.append(
            try Daemon(
                Self.unprivileged + [
                    PrometheusTools.nodeExporter!, "--web.listen-address=127.0.0.1:\(exporterPort)",
                    "--collector.disable-defaults", "--collector.textfile",
                    "--collector.textfile.directory=\(textfiles.path)",
                ], log: directory.appendingPathComponent("node-exporter.log")))
        let copy = directory.appendingPathComponent("forbc-alerts.yml")
        let shipped = try String(contentsOfFile: rules, encoding: .utf8)
        let shortened = shipped.replacingOccurrences(
            of: #"for: [0-9]+[smh]"#, with: "for: 2s", options: .regularExpression)
        try (shortened + Self.counter).write(to: copy, atomically: true, encoding: .utf8)
        let config = directory.appendingPathComponent("prometheus.yml")
        try Self.config(rules: copy.path, target: "127.0.0.1:\(exporterPort)").write(
            to: config, atomically: true, encoding: .utf8)
        let port = try PrometheusTools.freePort()
        api = API(port: port)
        daemons.append(
            try Daemon(
                [
                    PrometheusTools.prometheus!, "--config.file=\(config.path)",
                    "--storage.tsdb.path=\(directory.appendingPathComponent("data").path)",
                    "--web.listen-address=127.0.0.1:\(port)",
                ], log: directory.appendingPathComponent("prometheus.log")))
    }

    /// setpriv's prefix that drops root for nobody, when this runs as root and util-linux's setpriv is there.
    static let unprivileged: [String] =
        getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")
        ? ["/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"] : []

    /// Appended to the shipped group (its last rule is an alert, indented by six spaces): evaluated after the
    /// alerts in the same pass, so its samples prove the alerts were evaluated with forbc's metrics present.
    static let counter = """
              - record: forbc_test:evaluations_with_metrics
                expr: count(forbc_drift_check_timestamp_seconds)

        """

    static func config(rules: String, target: String) -> String {
        """
        global: {scrape_interval: 1s, evaluation_interval: 1s}
        rule_files: ['\(rules)']
        scrape_configs:
          - job_name: node
            static_configs: [{targets: ['\(target)']}]

        """
    }

    /// Ends both daemons (each by its PID, from its shell) and waits for them.
    func stop() {
        for daemon in daemons.reversed() { daemon.stop() }
        daemons = []
    }

    /// Until the rules have been evaluated `count` times with forbc's metrics scraped; a test failure if not in 60 s.
    func waitForEvaluations(_ count: Int) async throws {
        let done = try await poll {
            let seen = try await self.api.query("count_over_time(forbc_test:evaluations_with_metrics[5m])")
            return (seen.first?.value ?? 0) >= Double(count) ? true : nil
        }
        if done == nil {
            let seen = await report()
            Issue.record("Prometheus did not evaluate the rules \(count) times with forbc's metrics in 60 s\n\(seen)")
        }
    }

    /// The labels of `alertname` once it fires; a test failure naming what Prometheus saw if not in 60 s.
    func waitForFiring(_ alertname: String, metrics: String) async throws -> [String: String]? {
        let fired = try await poll {
            try await self.api.query(#"ALERTS{alertname="\#(alertname)",alertstate="firing"}"#).first?.labels
        }
        if fired == nil {
            let file = (try? String(contentsOfFile: metrics, encoding: .utf8)) ?? "(unreadable)"
            let seen = await report()
            Issue.record("\(alertname) did not fire within 60 s\n\(metrics):\n\(file)\n\(seen)")
        }
        return fired
    }

    /// `probe` every 250 ms until it gives a value, for at most 60 s (requests that fail count as no value) — and
    /// at least 40 times: in a full `swift test` the other suites can keep this task off the cooperative pool's
    /// threads for most of a minute, so a deadline alone could pass with Prometheus barely asked.
    private func poll<T>(_ probe: @escaping () async throws -> T?) async throws -> T? {
        let deadline = Date().addingTimeInterval(60)
        var attempts = 0
        while Date() < deadline || attempts < 40 {
            attempts += 1
            if let value = try? await probe() { return value }
            try await Task.sleep(for: .milliseconds(250))
        }
        return nil
    }

    /// What Prometheus holds (alerts, targets) and the ends of both daemons' logs, for a failure message.
    private func report() async -> String {
        var text = ""
        // What node_exporter itself saw of the textfile folder (its scrape error, the files' mtimes), and the
        // folder as the test sees it: a file nobody can read shows here and not in Prometheus' answers.
        let textfileState = (try? await api.query(#"{__name__=~"node_textfile_.*"}"#)) ?? []
        text += "node_textfile_*: \(textfileState)\n"
        let files = (try? FileManager.default.contentsOfDirectory(atPath: textfiles.path)) ?? []
        for file in files {
            let attributes = try? FileManager.default.attributesOfItem(
                atPath: textfiles.appendingPathComponent(file).path)
            let mode = (attributes?[.posixPermissions] as? Int).map { String($0, radix: 8) } ?? "?"
            text += "textfile/\(file): mode \(mode)\n"
        }
        for path in ["/api/v1/alerts", "/api/v1/rules", "/api/v1/targets"] {
            let body = try? await URLSession.shared.data(from: api.url(path)).0
            text += "GET \(path): \(body.map { String(decoding: $0, as: UTF8.self) } ?? "(no answer)")\n"
        }
        for log in ["node-exporter.log", "prometheus.log"] {
            let lines = (try? String(contentsOf: directory.appendingPathComponent(log), encoding: .utf8)) ?? ""
            text += "\(log) (last lines):\n" + lines.split(separator: "\n").suffix(15).joined(separator: "\n") + "\n"
        }
        return text
    }
}

extension PrometheusStack {
    /// A daemon started under a shell that runs it in the background and, when the shell's standard input closes
    /// (`stop`, or this test process ending in any way, SIGKILL included), ends it by its PID (TERM, then KILL
    /// after 10 s) and reaps it.
    final class Daemon: @unchecked Sendable {
        private let shell = Process()
        private let input = Pipe()

        static let script = """
            "$@" </dev/null >"$FORBC_DAEMON_LOG" 2>&1 &
            pid=$!
            read -r _ || true
            kill "$pid" 2>/dev/null
            for _ in $(seq 100); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
            kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
            wait "$pid"
            exit 0
            """

        init(_ arguments: [String], log: URL) throws {
            shell.executableURL = URL(fileURLWithPath: "/bin/bash")
            shell.arguments = ["-c", Self.script, "daemon"] + arguments
            shell.environment = ProcessInfo.processInfo.environment.merging(["FORBC_DAEMON_LOG": log.path]) { $1 }
            shell.standardInput = input
            shell.standardOutput = FileHandle.nullDevice
            shell.standardError = FileHandle.nullDevice
            try shell.run()
        }

        func stop() {
            try? input.fileHandleForWriting.close()
            shell.waitUntilExit()
        }
    }

    /// Prometheus' HTTP API on loopback.
    struct API: Sendable {
        let port: Int

        func url(_ path: String, query: String? = nil) -> URL {
            var components = URLComponents(string: "http://127.0.0.1:\(port)\(path)")!
            if let query { components.queryItems = [URLQueryItem(name: "query", value: query)] }
            return components.url!
        }

        /// An instant query's samples: labels and value.
        func query(_ promQL: String) async throws -> [(labels: [String: String], value: Double)] {
            var request = URLRequest(url: url("/api/v1/query", query: promQL))
            request.timeoutInterval = 5
            let (data, _) = try await URLSession.shared.data(for: request)
            let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
            guard object?["status"] as? String == "success",
                let result = (object?["data"] as? [String: Any])?["result"] as? [[String: Any]]
            else { throw URLError(.cannotParseResponse) }
            return result.map { sample in
                let labels = sample["metric"] as? [String: String] ?? [:]
                let value = ((sample["value"] as? [Any])?.last as? String).flatMap(Double.init) ?? .nan
                return (labels, value)
            }
        }
    }
}
