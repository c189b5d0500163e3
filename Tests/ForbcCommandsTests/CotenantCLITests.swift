import ForbcBench
import ForbcTestSupport
import Foundation
import Testing

/// Co-tenants on the host through the real `forbc bench run`: three copies of cpu-gemm, released together, measure
/// windows that overlap (the workload reports each window's start and end beside its value).
@Suite("co-tenants through the forbc binary")
struct CotenantCLITests {
    /// The JSON lines of a log that carry `key`.
    func lines(_ path: String, with key: String) throws -> [[String: Any]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").compactMap { line in
            guard line.hasPrefix("{") else { return nil }
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return object?[key] != nil ? object : nil
        }
    }

    /// cpu-gemm at 256×256: a matrix product in a few milliseconds even on a loaded machine, so a window's edges
    /// (checked after each product) sit close to the schedule's (at 768, 3 tenants on 2 busy cores can take longer
    /// than a window a product).
    static func workloads(in folder: URL) throws -> String {
        let copy = folder.appendingPathComponent("workloads")
        try FileManager.default.createDirectory(at: copy, withIntermediateDirectories: true)
        let source = RepositoryPaths.root.appendingPathComponent("Manifests/workloads")
        for file in ["common.py", "cpu_gemm.py"] {
            try FileManager.default.copyItem(
                at: source.appendingPathComponent(file), to: copy.appendingPathComponent(file))
        }
        let profile = try String(contentsOf: source.appendingPathComponent("cpu-gemm.yaml"), encoding: .utf8)
            .replacingOccurrences(of: "--window, \"{window}\"]", with: "--window, \"{window}\", --size, \"256\"]")
        try #require(profile.contains("\"256\""))
        try profile.write(to: copy.appendingPathComponent("cpu-gemm.yaml"), atomically: true, encoding: .utf8)
        return copy.path
    }

    @Test("3 tenants of cpu-gemm: all ready before the release, every repetition's windows overlap")
    func windowsOverlap() throws {
        let folder = makeTemporaryDirectory("cotenants")
        let manifest = folder.appendingPathComponent("cotenants.yaml").path
        try """
        apiVersion: forbc/v1
        kind: Host
        metadata: {name: cotenants}
        spec:
          benchmarks:
            - {suite: three, workloads: [cpu-gemm], repetitions: 3, tenants: 3}
        """.write(toFile: manifest, atomically: true, encoding: .utf8)
        let workloads = try Self.workloads(in: folder)
        let state = folder.appendingPathComponent("state").path
        let ran = try ForbcBinary.run(
            ["bench", "run", manifest, "--workloads", workloads, "--state-dir", state, "--launches", "2"]
                + ["--max-launches", "2"])
        #expect(ran.code == 0, "\(ran.stderr)")
        let results = try ResultStore(path: state + "/bench.sqlite").all()
        #expect(results.map(\.tenant).sorted() == ["(aggregate)", "host#0", "host#1", "host#2"])
        #expect(results.allSatisfy { $0.status == "ok" }, "\(results.compactMap(\.failure))")
        let tenants = results.filter { $0.tenant != "(aggregate)" }
        let logs = try tenants.map { try JSONDecoder().decode([String].self, from: Data($0.logs.utf8)) }
        for launch in 0..<2 {
            let record = try #require(logs[0].first { $0.hasSuffix("-\(launch).json") })
            let release = try #require(
                try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: record)))
                    as? [String: Any])
            #expect((release["ready"] as? [Any])?.count == 3 && (release["notes"] as? [String]) == [], "\(release)")
            let windows = try logs.map { paths in
                try lines(try #require(paths.first { $0.hasSuffix("-\(launch).log") }), with: "rep")
            }
            for rep in 0..<3 {
                let mine = windows.compactMap { $0.first { ($0["rep"] as? Int) == rep } }
                try #require(mine.count == 3)
                let start = mine.compactMap { $0["start"] as? Double }.max()!
                let end = mine.compactMap { $0["end"] as? Double }.min()!
                // The latest start is before the earliest end: all three measured at once.
                #expect(start < end, "launch \(launch) repetition \(rep): \(mine)")
                print(String(format: "launch %d rep %d: windows overlap %.3f s", launch, rep, end - start))
            }
            let skew = (release["skew"] as? Double) ?? -1
            let waited = (release["waited"] as? [Double]) ?? []
            print(
                String(
                    format: "launch %d: released %.3f s after start, skew %.3f ms, waited %.3f–%.3f s", launch,
                    (release["releasedAfter"] as? Double) ?? -1, skew * 1000, waited.min() ?? -1, waited.max() ?? -1))
        }
    }
}
