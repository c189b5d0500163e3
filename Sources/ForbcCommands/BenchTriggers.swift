import ArgumentParser
import ForbcBench
import ForbcCore
import Foundation

/// When `apply` runs the manifest's suites afterwards.
enum BenchTrigger: String, ExpressibleByArgument, Sendable {
    /// The suites whose targets this apply created, changed or attached (a host suite: when anything changed).
    case onChange = "on-change"
    case always
    case never

    /// The suites to run after an apply that did `report`.
    func suites(of manifest: Manifest, after report: Applier.Report) -> [BenchmarkSpec] {
        switch self {
        case .never: return []
        case .always: return manifest.benchmarks
        case .onChange:
            let touched = Set(report.done.flatMap { [$0.target] + $0.records.map(\.name) })
            return manifest.benchmarks.filter { suite in
                suite.on.isEmpty ? !report.done.isEmpty : suite.on.contains(where: touched.contains)
            }
        }
    }
}

/// The workload folder of a manifest's suites, checked before anything runs.
enum WorkloadFolder {
    /// `override`, or `workloads/` beside the manifest.
    static func path(for file: String, override: String?) -> String {
        if let override { return override }
        let folder = (file as NSString).deletingLastPathComponent
        return (folder.isEmpty ? "." : folder) + "/workloads"
    }

    /// Every problem with the folder and the workloads the suites name, located at the suite that names them.
    static func diagnostics(_ manifest: Manifest, folder: String) -> [Diagnostic] {
        guard let first = manifest.benchmarks.first else { return [] }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            return [
                Diagnostic(
                    "the workload folder '\(folder)' does not exist; put the profiles in 'workloads/' beside the "
                        + "manifest or pass '--workloads DIR'", at: first.location)
            ]
        }
        let profiles: [String: (WorkloadProfile, String)]
        do {
            profiles = try WorkloadProfile.loadAll(in: folder)
        } catch {
            return [Diagnostic("\(error)", at: first.location)]
        }
        return manifest.benchmarks.flatMap { suite in
            suite.workloads.filter { profiles[$0] == nil }.map { name in
                Diagnostic(
                    "suite '\(suite.suite)' names workload '\(name)', which '\(folder)' does not hold; it has "
                        + profiles.keys.sorted().joined(separator: ", "), at: suite.location)
            }
        }
    }

    /// Throws the diagnostics, if any.
    static func check(_ manifest: Manifest, folder: String) throws {
        let problems = diagnostics(manifest, folder: folder)
        if !problems.isEmpty { throw DiagnosticsError(problems) }
    }
}
