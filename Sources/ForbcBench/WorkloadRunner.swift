import ForbcCore
import Foundation

/// Runs one workload process: an argument vector (no shell), an environment, a timeout, its output kept in a log.
public struct WorkloadRunner: Sendable {
    public struct Outcome: Sendable {
        public var values: [String: [Double]]
        /// nil when it succeeded; otherwise why it failed (crash, hang, garbage).
        public var failure: String?
        public var log: String
        public var seconds: Double
        /// What the workload said about forbc's release (co-tenants with `{sync}`), from its output.
        public var release: Release? = nil
    }

    /// A co-tenant's own account of its release: when it was ready and when it saw `go` (UNIX time, its clock).
    public struct Release: Sendable, Equatable, Codable {
        public var tenant: Int
        public var ready: Double
        public var seen: Double

        /// The first `{"event": "released", "tenant": N, "ready": T, "seen": T}` line of `output`.
        static func parse(_ output: String) -> Release? {
            for line in output.split(separator: "\n") where line.hasPrefix("{") && line.contains("\"released\"") {
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                    object["event"] as? String == "released", let tenant = (object["tenant"] as? NSNumber)?.intValue,
                    let ready = (object["ready"] as? NSNumber)?.doubleValue,
                    let seen = (object["seen"] as? NSNumber)?.doubleValue
                else { continue }
                return Release(tenant: tenant, ready: ready, seen: seen)
            }
            return nil
        }
    }

    public let processes: any ProcessChannel

    public init(processes: any ProcessChannel = RealProcesses()) {
        self.processes = processes
    }

    /// Runs `profile` once. Co-tenants pass `startAt` (the older barrier), or `sync` and `tenant` (forbc's
    /// release: the process may then wait up to `syncTimeout` for `go`, the profile's timeout when 0, before its
    /// own timeout starts).
    public func run(
        _ profile: WorkloadProfile, directory: String, environment: [String: String], repetitions: Int,
        warmups: Int, startAt: Double, window: Double = 0, sync: String = "", tenant: Int = 0,
        syncTimeout: Double = 0, log: URL
    ) -> Outcome {
        let syncTimeout = syncTimeout > 0 ? syncTimeout : profile.timeout
        let arguments = profile.arguments(
            directory: directory, repetitions: repetitions, warmups: warmups, startAt: startAt, window: window,
            sync: sync, tenant: tenant, syncTimeout: syncTimeout)
        try? FileManager.default.createDirectory(at: log.deletingLastPathComponent(), withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let start = Date()
        func done(_ values: [String: [Double]], _ failure: String?) -> Outcome {
            let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            return Outcome(
                values: values, failure: failure, log: log.path, seconds: Date().timeIntervalSince(start),
                release: sync.isEmpty ? nil : Release.parse(output))
        }
        let wait = sync.isEmpty ? max(0, startAt - Date().timeIntervalSince1970) : syncTimeout
        let limit = profile.timeout + wait + window * Double(repetitions)
        switch processes.run(arguments, environment: environment, log: log, timeout: limit) {
        case .notStarted(let reason): return done([:], reason)
        case .timedOut: return done([:], "timed out after \(Int(profile.timeout)) s")
        case .signalled(let signal): return done([:], "was killed by signal \(signal); see its log")
        case .exited(let status) where status != 0: return done([:], "exited with status \(status); see its log")
        case .exited: break
        }
        let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        do {
            return done(try OutputParser.parse(output, profile: profile), nil)
        } catch let error as ForbcError {
            return done([:], error.message)
        } catch {
            return done([:], "\(error)")
        }
    }
}
