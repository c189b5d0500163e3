import ForbcCore
import Foundation

/// `forbc bench campaign --output json`: what the campaign did, for scripts (every text line goes to stderr then).
struct CampaignSummary: Encodable {
    struct Topology: Encodable {
        var name: String
        /// The topology's manifest file as resolved, or "inline".
        var manifest: String
        var suites: [String]
        /// "measured" (in this run or an earlier one that `--resume` continued) or "not measured".
        var status: String
        var runID: String?
        var results: Int
        var failed: Int
    }

    /// The campaign's name; absent when the file could not be read.
    var campaign: String?
    var file: String
    /// The simulated profile, when the host was simulated.
    var simulated: String?
    var baseline: String?
    /// "completed", "interrupted" or "failed"; "error" when forbc stopped before the campaign ran (the file, the
    /// workloads, the host, a plan, no confirmation), or could not finish it, and `error` says why.
    var outcome: String
    var error: String?
    /// The snapshot was applied back and drift against it was 0; absent with outcome "error".
    var restored: Bool?
    /// Every topology measured and the host restored: a fresh run starts anew.
    var complete: Bool
    var report: String?
    var results: Int
    var topologies: [Topology]

    init(_ run: CampaignRun, outcome: CampaignRun.Outcome, restoreError: Error?, report: String?, error: Error?) {
        let campaign = run.campaign
        self.campaign = campaign.name
        file = campaign.file
        simulated = run.progress.simulated
        baseline = campaign.baselineTopology
        switch outcome {
        case .completed: self.outcome = "completed"
        case .interrupted(let signal): (self.outcome, self.error) = ("interrupted", "interrupted by \(signal)")
        case .failed(let failure): (self.outcome, self.error) = ("failed", describe(failure))
        }
        if let restoreError { self.error = "the host was NOT restored: \(describe(restoreError))" }
        if self.error == nil, let error { self.error = describe(error) }
        restored = restoreError == nil
        complete = run.progress.complete
        self.report = complete && error == nil ? report : nil
        topologies = campaign.topologies.map { topology in
            let done = run.progress.finished.first { $0.topology == topology.name }
            return Topology(
                name: topology.name, manifest: topology.file ?? "inline",
                suites: campaign.suites(of: topology).map(\.suite), status: done == nil ? "not measured" : "measured",
                runID: done?.runID, results: done?.results ?? 0, failed: done?.failed ?? 0)
        }
        results = topologies.map(\.results).reduce(0, +)
    }

    /// The summary of a campaign that stopped on `error` before a summary of its run could be made.
    init(file: String, error: Error) {
        self.file = file
        outcome = "error"
        self.error = describe(error)
        complete = false
        results = 0
        topologies = []
    }

    var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}
