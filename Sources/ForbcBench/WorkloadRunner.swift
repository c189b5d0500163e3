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

    public init() {}

    public func run(_ profile: WorkloadProfile, directory: String, environment: [String: String], repetitions: Int,
                    warmups: Int, startAt: Double, window: Double = 0, log: URL) -> Outcome {
        let arguments = profile.arguments(directory: directory, repetitions: repetitions, warmups: warmups, startAt: startAt, window: window)
        try? FileManager.default.createDirectory(at: log.deletingLastPathComponent(), withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let start = Date()
        func done(_ values: [String: [Double]], _ failure: String?) -> Outcome {
            Outcome(values: values, failure: failure, log: log.path, seconds: Date().timeIntervalSince(start))
        }
        guard let handle = try? FileHandle(forWritingTo: log) else { return done([:], "cannot write its log \(log.path)") }
        defer { try? handle.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch { return done([:], "could not start '\(arguments[0])': \(error.localizedDescription)") }
        let finished = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in finished.signal() }
        if finished.wait(timeout: .now() + profile.timeout + max(0, startAt - Date().timeIntervalSince1970) + window * Double(repetitions)) == .timedOut {
            process.terminate()
            if finished.wait(timeout: .now() + 5) == .timedOut { kill(process.processIdentifier, SIGKILL); finished.wait() }
            return done([:], "timed out after \(Int(profile.timeout)) s")
        }
        let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            let how = process.terminationReason == .exit ? "exited with status \(process.terminationStatus)" : "was killed by signal \(process.terminationStatus)"
            return done([:], "\(how); see its log")
        }
        do {
            return done(try OutputParser.parse(output, profile: profile), nil)
        } catch let error as ForbcError {
            return done([:], error.message)
        } catch {
            return done([:], "\(error)")
        }
    }
}
