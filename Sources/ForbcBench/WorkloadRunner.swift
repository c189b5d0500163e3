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
    }

    public let processes: any ProcessChannel

    public init(processes: any ProcessChannel = RealProcesses()) {
        self.processes = processes
    }

    public func run(
        _ profile: WorkloadProfile, directory: String, environment: [String: String], repetitions: Int,
        warmups: Int, startAt: Double, window: Double = 0, log: URL
    ) -> Outcome {
        let arguments = profile.arguments(
            directory: directory, repetitions: repetitions, warmups: warmups, startAt: startAt, window: window)
        try? FileManager.default.createDirectory(at: log.deletingLastPathComponent(), withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let start = Date()
        func done(_ values: [String: [Double]], _ failure: String?) -> Outcome {
            Outcome(values: values, failure: failure, log: log.path, seconds: Date().timeIntervalSince(start))
        }
        let limit = profile.timeout + max(0, startAt - Date().timeIntervalSince1970) + window * Double(repetitions)
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
