import Foundation

/// Runs the fuzz target once over each input file (directories: every file under them) and times it: to replay a
/// reproducer, or to find the slowest input of a corpus. `--summary` prints only the totals and the slowest five.
enum Replay {
    struct Timed {
        var path: String
        var milliseconds: Double
        var outcome: FuzzTarget.Outcome
    }

    static func main(_ arguments: [String]) -> Int32 {
        let summary = arguments.first == "--summary"
        let paths = inputs(Array(arguments.dropFirst(summary ? 1 : 0)))
        _ = FuzzHosts.all  // discovery of every host, before the first input is timed
        var timed: [Timed] = []
        for path in paths {
            guard let data = FileManager.default.contents(atPath: path) else {
                print("\(path): cannot read")
                return 1
            }
            let start = DispatchTime.now().uptimeNanoseconds
            let outcome = data.withUnsafeBytes { FuzzTarget.run($0) }
            let one = Timed(
                path: path, milliseconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6, outcome: outcome)
            timed.append(one)
            if !summary { print(line(one)) }
        }
        let parsed = timed.filter(\.outcome.parsed).count
        let total = timed.reduce(0) { $0 + $1.milliseconds }
        print("replayed \(timed.count) inputs (\(parsed) parsed) in \(format(total)) ms")
        for one in timed.sorted(by: { $0.milliseconds > $1.milliseconds }).prefix(summary ? 5 : 1) {
            print("slowest: \(line(one))")
        }
        return 0
    }

    static func line(_ one: Timed) -> String {
        let outcome = one.outcome
        let verdict =
            outcome.parsed
            ? "parsed; \(outcome.plans) plans (\(outcome.actions) actions), \(outcome.refusals) refused; slowest plan "
                + "\(format(outcome.slowestPlan)) ms on \(outcome.slowestHost)"
            : "refused (\(outcome.diagnostics) diagnostics)"
        return "\(format(one.milliseconds)) ms  \(one.path): \(verdict)"
    }

    static func format(_ milliseconds: Double) -> String { String(format: "%.3f", milliseconds) }

    /// Files as named, and every regular file under a directory, in name order.
    static func inputs(_ paths: [String]) -> [String] {
        paths.flatMap { path -> [String] in
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
                return [path]
            }
            let names = (try? FileManager.default.subpathsOfDirectory(atPath: path)) ?? []
            return names.sorted().map { "\(path)/\($0)" }.filter { name in
                var isDirectory: ObjCBool = false
                return FileManager.default.fileExists(atPath: name, isDirectory: &isDirectory) && !isDirectory.boolValue
            }
        }
    }
}
