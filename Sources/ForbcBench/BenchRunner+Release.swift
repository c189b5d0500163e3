import ForbcCore
import Foundation

extension BenchRunner {
    /// One launch's outcomes (in tenant order) and, with forbc's release, its record and where that is kept.
    struct Launched {
        var outcomes: [WorkloadRunner.Outcome?]
        var release: ReleaseRecord?
        var record: String?
    }

    /// One launch: a process per tenant, each on a thread of its own so that all start at once (a dispatch queue
    /// runs only about as many at once as there are cores: 7 tenants on 2 would not start together). Co-tenants of
    /// a profile with `{sync}` start measuring when forbc releases them (`Rendezvous`; `progress` gets its lines),
    /// others at one `{start_at}` instant; a lone tenant waits for nobody, so the harness adds no idle time.
    func launchTenants(_ job: Job, launch: Int, warmups: Int, progress: (String) -> Void = { _ in }) -> Launched {
        let count = job.tenants.count
        let rendezvous =
            count > 1 && job.profile.usesRelease
            ? Rendezvous(
                job, launch: launch, agent: agent, goDeadline: options.goDeadline,
                reportEvery: options.releaseProgressEvery) : nil
        let startAt = count > 1 && rendezvous == nil ? Date().timeIntervalSince1970 + options.barrierDelay : 0
        let window = count > 1 || options.windowAlways || job.suite.wallWindow ? options.window : 0
        // A tenant waits for `go` as long as forbc may take to write it: the profile's timeout, then the retries.
        let syncTimeout = job.profile.timeout + options.goDeadline
        let outcomes = Locked([WorkloadRunner.Outcome?](repeating: nil, count: count))
        // Domains whose agent stopped answering earlier in the run: nothing more is launched there.
        let silent = silentDomains(job)
        let group = DispatchGroup()
        for (i, tenant) in job.tenants.enumerated() {
            let name = tenant.name.replacingOccurrences(of: "#", with: "_")
            let log = job.logs.appendingPathComponent("\(job.suite.suite)-\(job.profile.name)-\(name)-\(launch).log")
            let barrier = Barrier(
                startAt: startAt, sync: rendezvous?.folder(for: tenant) ?? "", tenant: i, syncTimeout: syncTimeout)
            group.enter()
            Thread {
                let outcome = self.run(
                    job, in: tenant, warmups: warmups, barrier: barrier, window: window, log: log,
                    silent: tenant.domain.flatMap { silent[$0.name] })
                outcomes.update { $0[i] = outcome }
                group.leave()
            }.start()
        }
        guard let rendezvous else {
            group.wait()
            return Launched(outcomes: outcomes.value)
        }
        let released = rendezvous.release(timeout: job.profile.timeout, progress: progress) {
            outcomes.value.map { $0 != nil }
        }
        group.wait()
        let (finished, record) = rendezvous.record(released, outcomes: outcomes.value)
        let path = job.logs.appendingPathComponent("release-\(job.suite.suite)-\(job.profile.name)-\(launch).json")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        if let data = try? encoder.encode(record) { try? AtomicFile.write(data, to: path) }
        return Launched(outcomes: finished, release: record, record: path.path)
    }
}

/// forbc's side of the co-tenants' release, for one launch of a profile with `{sync}`. Each tenant, once it has
/// imported, allocated and warmed up, appends "INDEX TIME" to `ready` in its location's folder and polls for `go`;
/// forbc reads the `ready` files and writes `go` in every folder as soon as each tenant is ready or has ended, or
/// once the profile's timeout has passed (a tenant that never gets ready holds the others that long at most), so
/// all start measuring at once. Tenants on the host share a folder beside the run's logs; each domain's tenants
/// share one in the guest, read and written through the guest agent (`Rendezvous+Go.swift` writes `go`).
struct Rendezvous: Sendable {
    let tenants: [BenchRunner.Tenant]
    let hostFolder: URL
    let guestFolder: String
    let agent: (any GuestAgentChannel)?
    /// The places tenants wait in: nil for the host, or a domain's name.
    let locations: [String?]
    /// Seconds forbc keeps trying to write `go` where it fails and a tenant waits for it.
    let goDeadline: Double
    /// Seconds between progress lines while the release waits.
    let reportEvery: Double

    init(
        _ job: BenchRunner.Job, launch: Int, agent: (any GuestAgentChannel)?, goDeadline: Double,
        reportEvery: Double
    ) {
        let name = "\(job.suite.suite)-\(job.profile.name)-\(launch)"
        tenants = job.tenants
        hostFolder = job.logs.appendingPathComponent("release").appendingPathComponent(name)
        guestFolder = "\(BenchRunner.guestRunFolder(job.runID))/release/\(name)"
        self.agent = agent
        self.goDeadline = goDeadline
        self.reportEvery = reportEvery
        var locations: [String?] = []
        for tenant in job.tenants where tenant.unreachable == nil && !locations.contains(tenant.domain?.name) {
            locations.append(tenant.domain?.name)
        }
        self.locations = locations
        if locations.contains(nil) {
            try? FileManager.default.createDirectory(at: hostFolder, withIntermediateDirectories: true)
        }
    }

    /// The folder `{sync}` names for a tenant.
    func folder(for tenant: BenchRunner.Tenant) -> String { tenant.domain == nil ? hostFolder.path : guestFolder }

    /// A location as messages name it.
    static func name(_ location: String?) -> String { location.map { "'\($0)'" } ?? "the host" }

    /// An error's own words.
    static func words(_ error: any Error) -> String { (error as? ForbcError)?.message ?? "\(error)" }

    /// Seconds between looks at the `ready` files, and between tries of a `go` that could not be written: a
    /// millisecond on the host; in guests 0.1 s, 0.25 s after an agent command failed (each look is up to three
    /// agent commands, and libvirt runs one command at a time per domain: the tenants' own guest-exec-status
    /// polls wait behind them).
    var poll: (ok: Double, failing: Double) { locations.contains { $0 != nil } ? (0.1, 0.25) : (0.001, 0.01) }

    /// The `ready` file of a location: nil while there is none yet; an error is the agent's (or the file
    /// system's) other than "no such file".
    func readyFile(_ location: String?) throws -> Data? {
        guard let domain = location else {
            // The tenants write it (one short line each): a FIFO or a huge file there is an error, not a hang.
            let path = hostFolder.appendingPathComponent("ready").path
            return try BoundedFile.readIfPresent(path, limit: 1 << 20, what: "the tenants' ready file")
        }
        return try agent?.readFile(domain: domain, path: guestFolder + "/ready")
    }

    /// When each tenant said it was ready, by index: every complete "INDEX TIME" line of every location; and the
    /// reads that failed, in words that say where.
    func readyTimes() -> (ready: [Int: Double], failures: [String]) {
        var ready: [Int: Double] = [:]
        var failures: [String] = []
        for location in locations {
            let data: Data
            do {
                guard let read = try readyFile(location) else { continue }
                data = read
            } catch {
                let path = location == nil ? hostFolder.appendingPathComponent("ready").path : guestFolder + "/ready"
                failures.append("reading \(path) in \(Self.name(location)) failed: \(Self.words(error))")
                continue
            }
            // A line still being written has no newline yet.
            for line in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
                .dropLast()
            {
                let fields = line.split(separator: " ")
                guard fields.count == 2, let index = Int(fields[0]), tenants.indices.contains(index),
                    tenants[index].domain?.name == location, let time = Double(fields[1])
                else { continue }
                ready[index] = ready[index] ?? time
            }
        }
        return (ready, failures)
    }

    /// What the release saw: who was ready when (their clocks), when it happened (forbc's), and why then.
    struct Released {
        var ready: [Int: Double]
        var at: Double
        var after: Double
        var timedOut: Bool
        var problems: [String]
        /// Locations whose `go` was written later than another's (retried), by how many seconds.
        var late: [String?: Double] = [:]
    }

    /// Reads of `ready` files that failed: how many, and the first (reported at once).
    struct ReadFailures {
        var count = 0
        var first: String?

        mutating func add(_ failures: [String], poll: Double, progress: (String) -> Void) {
            guard let failure = failures.first else { return }
            if first == nil {
                first = failure
                progress("release: " + failure + String(format: "; looking again every %.2f s while it fails", poll))
            }
            count += failures.count
        }

        var note: String? { first.map { "\(count) read(s) of 'ready' failed; the first: \($0)" } }
    }

    /// Waits until every tenant is ready or has ended (`ended`, by index) or `timeout` seconds have passed, then
    /// writes `go` in every location (`poll` says how often it looks). `progress` gets a line when the wait starts,
    /// about every `reportEvery` seconds while it lasts, at the first read that fails, and when `go` is written.
    func release(timeout: Double, progress: (String) -> Void, ended: () -> [Bool]) -> Released {
        let start = Date()
        var ready: [Int: Double] = [:]
        var failures = ReadFailures()
        var timedOut = false
        var report = start.addingTimeInterval(reportEvery)
        progress(
            String(format: "release: waiting for %d tenant(s) to be ready, %.0f s at most", tenants.count, timeout))
        while true {
            let look = readyTimes()
            ready = look.ready
            failures.add(look.failures, poll: poll.failing, progress: progress)
            let done = ended()
            if tenants.indices.allSatisfy({ ready[$0] != nil || done[$0] }) { break }
            if Date().timeIntervalSince(start) >= timeout {
                timedOut = true
                break
            }
            if Date() >= report {
                progress(waiting(since: start, ready: ready, ended: done))
                report = Date().addingTimeInterval(reportEvery)
            }
            Thread.sleep(forTimeInterval: look.failures.isEmpty ? poll.ok : poll.failing)
        }
        let at = Date().timeIntervalSince1970
        let after = Date().timeIntervalSince(start)
        let go = writeGo(at: at, ready: ready, ended: ended, progress: progress)
        progress(go.line(after: after, ready: ready.count, of: tenants.count))
        // A tenant ready between the last look and `go` saw it at its next look: it was released with the others.
        if timedOut { ready.merge(readyTimes().ready) { first, _ in first } }
        let problems = [failures.note].compactMap { $0 } + go.notes
        return Released(
            ready: ready, at: at, after: after, timedOut: timedOut, problems: problems, late: go.late())
    }

    /// The progress line of a release still waiting: who is ready, who is not, who has ended.
    func waiting(since start: Date, ready: [Int: Double], ended: [Bool]) -> String {
        func names(_ include: (Int) -> Bool) -> String {
            let chosen = tenants.indices.filter(include).map { tenants[$0].name }
            return chosen.isEmpty ? "none" : chosen.joined(separator: ", ")
        }
        return String(format: "release: waiting for %.0f s; ready: ", Date().timeIntervalSince(start))
            + names { ready[$0] != nil } + "; not yet: " + names { ready[$0] == nil && !ended[$0] } + "; ended: "
            + names { ready[$0] == nil && ended[$0] }
    }

    /// The launch's outcomes, a tenant that was not ready at the release failed (its window is not its
    /// co-tenants'), and the record of the release.
    func record(_ released: Released, outcomes: [WorkloadRunner.Outcome?]) -> ([WorkloadRunner.Outcome?], ReleaseRecord)
    {
        var outcomes = outcomes
        var record = ReleaseRecord(
            tenants: tenants.map(\.name), released: released.at, releasedAfter: released.after,
            ready: tenants.indices.map { released.ready[$0] }, seen: [], waited: [], skew: nil,
            notes: released.problems)
        for (i, outcome) in outcomes.enumerated() {
            let seen = outcome?.release.flatMap { $0.tenant == i ? $0.seen : nil }
            record.seen.append(seen)
            record.waited.append(seen.flatMap { seen in record.ready[i].map { seen - $0 } })
            guard record.ready[i] == nil, var outcome else { continue }
            if let failure = outcome.failure {
                record.notes.append("'\(tenants[i].name)' ended before it was ready: \(failure)")
            } else {
                outcome.failure = String(
                    format: "was not ready when its co-tenants were released (%.1f s into the launch); its window "
                        + "is not theirs", released.after)
                outcome.values = [:]
                outcomes[i] = outcome
                record.notes.append("'\(tenants[i].name)' was not ready at the release")
            }
        }
        failLate(released.late, outcomes: &outcomes, record: &record)
        if released.timedOut {
            record.notes.append(
                String(
                    format: "released at the profile's timeout (%.0f s), without the tenants not ready", released.after)
            )
        }
        // The spread of the instants tenants saw `go`, among tenants that share a clock (the host, or one guest).
        let clocks = Dictionary(grouping: tenants.indices) { tenants[$0].domain?.name ?? "" }
        let spreads = clocks.values.compactMap { indices -> Double? in
            let seen = indices.compactMap { record.seen[$0] }
            return seen.count > 1 ? seen.max()! - seen.min()! : nil
        }
        record.skew = spreads.max()
        return (outcomes, record)
    }
}

extension Rendezvous {
    /// Tenants of a location whose `go` was written late (a refused write, retried) while another location's
    /// tenants were already measuring: their windows are not their co-tenants', so their values are not kept.
    func failLate(
        _ late: [String?: Double], outcomes: inout [WorkloadRunner.Outcome?], record: inout ReleaseRecord
    ) {
        for (i, outcome) in outcomes.enumerated() {
            guard var outcome, outcome.failure == nil, let delay = late[tenants[i].domain?.name] else { continue }
            outcome.failure = String(
                format: "saw 'go' %.2f s after its co-tenants elsewhere (the guest agent refused it until then); "
                    + "its window is not theirs", delay)
            outcome.values = [:]
            outcomes[i] = outcome
            record.notes.append(String(format: "'\(tenants[i].name)' was released %.2f s late", delay))
        }
    }
}

/// One launch's release, kept as JSON beside its logs (each tenant's result lists it with its logs).
struct ReleaseRecord: Codable, Sendable {
    var tenants: [String]
    /// forbc's clock when it wrote `go`, and seconds from the launch's start until then.
    var released: Double
    var releasedAfter: Double
    /// When each tenant said it was ready (its own clock); nil: it was not at the release.
    var ready: [Double?]
    /// When each tenant saw `go` (its own clock, from its output).
    var seen: [Double?]
    /// Seconds each waited between saying it was ready and seeing `go`.
    var waited: [Double?]
    /// The release skew: the largest spread of `seen` among tenants that share a clock.
    var skew: Double?
    /// What did not go as planned: tenants that ended before they were ready, a timeout, a `go` not written.
    var notes: [String]

    /// The progress line's account: "released after 1.234 s (3 of 3 ready), waited 0.002–1.100 s, skew 0.41 ms".
    var summary: String {
        let ready = self.ready.compactMap { $0 }.count
        var text = String(format: "released after %.3f s (%d of %d ready)", releasedAfter, ready, tenants.count)
        let waited = self.waited.compactMap { $0 }
        if let low = waited.min(), let high = waited.max() {
            text += String(format: ", waited %.3f–%.3f s", low, high)
        }
        if let skew { text += String(format: ", release skew %.2f ms", skew * 1000) }
        if !notes.isEmpty { text += "; " + notes.joined(separator: "; ") }
        return text
    }
}
