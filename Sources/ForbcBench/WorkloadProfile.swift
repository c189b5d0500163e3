import ForbcCore
import Foundation
import Yams

/// A workload: how to run it (an argument vector, never a shell string), how to read its results, what its
/// metrics mean. Kept as YAML files in Manifests/workloads/.
public struct WorkloadProfile: Sendable, Codable, Equatable {
    public struct Metric: Sendable, Codable, Equatable {
        public var name: String
        public var unit: String
        /// "higher" or "lower" is better.
        public var better: String
    }

    public var name: String
    public var version: Int
    public var description: String
    /// "device" (a GPU partition) or "host" (CPU).
    public var bound: String
    /// The command: argv[0] and its arguments. `{dir}` is the profile's folder (inside a domain, forbc's copy of
    /// it there), `{repetitions}` the in-process repetitions, `{warmups}` the warm-ups, `{window}` the seconds of
    /// wall-clock time each co-tenant measures (0 when alone: the workload's own timing). Co-tenants start
    /// together by forbc's release: `{sync}` is a folder where the workload, once it has imported, allocated and
    /// warmed up, appends the line "`{tenant}` UNIX-TIME" to `ready`, then waits for a file `go` (forbc writes it
    /// when every tenant is ready or has ended); empty when alone (no wait). `{sync_timeout}` is how many seconds
    /// it waits for `go` at most before it gives up and exits non-zero (the profile's timeout and the time forbc
    /// may spend retrying the write of `go`). A profile without `{sync}` gets the older barrier instead:
    /// `{start_at}`, the instant (UNIX time in seconds) all tenants wait for.
    public var run: [String]
    /// "json-lines" (`{"metric": NAME, "value": NUMBER}` a line) or "regex" (`pattern`, one capture per value).
    public var parse: String
    public var pattern: String?
    public var metrics: [Metric]
    public var timeout: Double
    /// How the workload times itself when alone, where `bound` does not say it: a device-bound workload that
    /// times frames by the host's clock (`host-clock`) rather than by CUDA events (`device-events`, the default
    /// for `bound: device`). A window, when there is one, is always `wall-window`.
    public var timing: String?

    /// Yams turns a plain scalar such as `9000000000000000000:0` into a base-60 integer with arithmetic that traps
    /// on overflow; a profile with any base-60-looking scalar is refused before it is decoded.
    static func refuseTrappingScalars(_ text: String, path: String) throws {
        let node: Node?
        do { node = try Yams.compose(yaml: text, Resolver.basic) } catch {
            throw ForbcError(.invalidInput, "\(path): not a workload profile: \(error)", path: path, cause: error)
        }
        var pending = node.map { [$0] } ?? []
        var budget = 100_000
        while let next = pending.popLast() {
            budget -= 1
            guard budget > 0 else {
                throw ForbcError(.invalidInput, "\(path): the profile expands to too many nodes", path: path)
            }
            switch next {
            case .scalar(let scalar):
                if scalar.style == .plain,
                    scalar.string.wholeMatch(of: /[-+]?[0-9][0-9_]*(:[0-9_]+)+(\.[0-9_]*)?/) != nil
                {
                    throw ForbcError(
                        .invalidInput,
                        "\(path): '\(scalar.string)' reads as a base-60 number; quote it, or write a decimal number",
                        path: path)
                }
            case .mapping(let mapping): pending += mapping.flatMap { [$0.key, $0.value] }
            case .sequence(let sequence): pending += Array(sequence)
            case .alias: break
            }
        }
    }

    /// The most bytes a profile file may hold (a manifest's limit): it is read whole, by `BoundedFile`.
    public static let maximumBytes = ManifestParser.maximumBytes

    /// Loads and checks a profile file (a regular file only: a FIFO or a device in `workloads/` is refused).
    public static func load(_ path: String) throws -> WorkloadProfile {
        let data = try BoundedFile.read(path, limit: maximumBytes, what: "a workload profile")
        guard let text = String(data: data, encoding: .utf8) else {
            throw ForbcError(.invalidInput, "\(path): a workload profile must be UTF-8 text", path: path)
        }
        try refuseTrappingScalars(text, path: path)
        let profile: WorkloadProfile
        do { profile = try YAMLDecoder().decode(WorkloadProfile.self, from: text) } catch {
            throw ForbcError(.invalidInput, "\(path): not a workload profile: \(error)", path: path, cause: error)
        }
        guard Patterns.isPartitionName(profile.name), !profile.run.isEmpty, !profile.metrics.isEmpty,
            ["json-lines", "regex"].contains(profile.parse), profile.parse != "regex" || profile.pattern != nil,
            ["device", "host"].contains(profile.bound),
            profile.metrics.allSatisfy({ ["higher", "lower"].contains($0.better) }),
            profile.timeout > 0
        else {
            throw ForbcError(
                .invalidInput,
                "\(path): a workload needs a name, a 'run' argument vector, 'parse' json-lines or regex (with "
                    + "'pattern'), 'bound' device or host, metrics with 'better' higher or lower, and a "
                    + "positive 'timeout'"
            )
        }
        if let timing = profile.timing, ![Timing.deviceEvents, Timing.hostClock].contains(timing) {
            throw ForbcError(
                .invalidInput,
                "\(path): 'timing' is '\(timing)'; a workload alone is timed by 'device-events' or 'host-clock'",
                path: path)
        }
        if profile.usesRelease != profile.run.contains(where: { $0.contains("{tenant}") }) {
            throw ForbcError(
                .invalidInput,
                "\(path): 'run' has one of '{sync}' and '{tenant}' without the other; a tenant says it is ready in "
                    + "'{sync}' under its '{tenant}' index, so a profile takes both or neither", path: path)
        }
        // An argument vector: a single string with spaces is a shell command line in disguise.
        if profile.run.count == 1 && profile.run[0].contains(" ") {
            throw ForbcError(
                .invalidInput,
                "\(path): 'run' is one string with spaces; give it as an argument vector: [program, arg, …]")
        }
        return profile
    }

    /// Every profile in a folder, by name.
    public static func loadAll(in directory: String) throws -> [String: (WorkloadProfile, String)] {
        var profiles: [String: (WorkloadProfile, String)] = [:]
        for file in try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        where file.hasSuffix(".yaml") {
            let profile = try load("\(directory)/\(file)")
            profiles[profile.name] = (profile, directory)
        }
        return profiles
    }

    /// Whether its co-tenants start by forbc's release (`{sync}`), rather than at a `{start_at}` instant.
    public var usesRelease: Bool { run.contains { $0.contains("{sync}") } }

    /// The argument vector with its placeholders filled (`sync` empty: no release to wait for).
    public func arguments(
        directory: String, repetitions: Int, warmups: Int, startAt: Double, window: Double = 0, sync: String = "",
        tenant: Int = 0, syncTimeout: Double? = nil
    ) -> [String] {
        run.map {
            $0.replacingOccurrences(of: "{dir}", with: directory)
                .replacingOccurrences(of: "{window}", with: String(format: "%.3f", window))
                .replacingOccurrences(of: "{repetitions}", with: "\(repetitions)")
                .replacingOccurrences(of: "{warmups}", with: "\(warmups)")
                .replacingOccurrences(of: "{start_at}", with: String(format: "%.3f", startAt))
                .replacingOccurrences(of: "{sync_timeout}", with: String(format: "%.3f", syncTimeout ?? timeout))
                .replacingOccurrences(of: "{sync}", with: sync)
                .replacingOccurrences(of: "{tenant}", with: "\(tenant)")
        }
    }
}

/// Reads measurements from a workload's output.
public enum OutputParser {
    /// Values per metric; throws when the output holds none (garbage, nothing, or the wrong metrics).
    public static func parse(_ output: String, profile: WorkloadProfile) throws -> [String: [Double]] {
        var values: [String: [Double]] = [:]
        let known = Set(profile.metrics.map(\.name))
        switch profile.parse {
        case "regex":
            let regex = try NSRegularExpression(pattern: profile.pattern ?? "")
            let range = NSRange(output.startIndex..., in: output)
            for match in regex.matches(in: output, range: range) where match.numberOfRanges > 1 {
                if let r = Range(match.range(at: 1), in: output), let value = Double(output[r]) {
                    values[profile.metrics[0].name, default: []].append(value)
                }
            }
        default:
            for line in output.split(separator: "\n") {
                guard line.hasPrefix("{"), let data = line.data(using: .utf8),
                    let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                    let metric = object["metric"] as? String, known.contains(metric),
                    let value = (object["value"] as? NSNumber)?.doubleValue, value.isFinite
                else { continue }
                values[metric, default: []].append(value)
            }
        }
        guard !values.isEmpty else {
            throw ForbcError(
                .system,
                "no measurements of \(profile.metrics.map { "'\($0.name)'" }.joined(separator: ", ")) in the output")
        }
        return values
    }
}
