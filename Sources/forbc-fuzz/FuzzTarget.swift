import ForbcCore
import Foundation

/// What the fuzz target does with one input: the bytes as manifest text → `ManifestParser.parse` (the YAML
/// parser and the validating walk) → when it parses, `Planner.plan` against every simulated host. A thrown
/// error is a correct answer; only a crash, a hang or a sanitizer report is a finding.
enum FuzzTarget {
    /// What happened to one input, for the reproducer runner.
    struct Outcome {
        var parsed = false
        var diagnostics = 0
        var plans = 0
        var actions = 0
        var refusals = 0
        /// The host whose plan took longest, and how long (ms).
        var slowestHost = ""
        var slowestPlan = 0.0
    }

    @discardableResult
    static func run(_ bytes: UnsafeRawBufferPointer) -> Outcome {
        var outcome = Outcome()
        // As `forbc validate FILE` reads a file: bytes that are not UTF-8 are refused before parsing.
        guard let text = String(validating: bytes, as: UTF8.self) else { return outcome }
        let manifest: Manifest
        do {
            manifest = try ManifestParser.parse(text: text, file: "fuzz.yaml")
        } catch {
            outcome.diagnostics = (error as? DiagnosticsError)?.diagnostics.count ?? 1
            return outcome
        }
        outcome.parsed = true
        let named = Set(
            manifest.gpus.compactMap { spec -> String? in
                if case .pciAddress(let address) = spec.select { return address }
                return nil
            })
        for host in FuzzHosts.all {
            guard let inventory = try? host.inventory(named: named) else { continue }
            let start = DispatchTime.now().uptimeNanoseconds
            defer {
                let milliseconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
                if milliseconds > outcome.slowestPlan {
                    (outcome.slowestHost, outcome.slowestPlan) = (host.label, milliseconds)
                }
            }
            do {
                let plan = try Planner(manifest: manifest, inventory: inventory, state: host.state).plan()
                outcome.plans += 1
                outcome.actions += plan.actions.count
            } catch {
                outcome.refusals += 1
            }
        }
        return outcome
    }
}
