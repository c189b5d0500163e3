import ForbcCore
import Foundation

/// How a result was timed, stored with it: a ratio is only a ratio when both sides were timed the same way.
public enum Timing {
    /// The workload timed itself on the device (CUDA events around its calls), alone.
    public static let deviceEvents = "device-events"
    /// The workload timed itself with the host's clock around its calls (the CPU workloads' `perf_counter`), alone.
    public static let hostClock = "host-clock"
    /// As many calls as fit in a common wall-clock window after the barrier (co-tenants, or `--window-always`).
    public static let wallWindow = "wall-window"
    /// Stored before forbc recorded the method, and not derivable from the result's data.
    public static let unknown = "unknown"

    /// The methods a result can declare.
    public static let known = [deviceEvents, hostClock, wallWindow]

    /// One line a method, for the report and `compare`.
    public static let meanings: [String: String] = [
        deviceEvents: "timed by the workload itself on the device (CUDA events), alone",
        hostClock: "timed by the workload itself with the host's clock around its calls, alone",
        wallWindow: "calls counted in a common wall-clock window after the barrier (co-tenants; a lone tenant with "
            + "'--window-always' or its suite's 'timing: wall-window')",
        unknown: "stored before forbc recorded its timing; not derivable from its data",
    ]

    /// The method of a workload with the given `bound` ("device" or "host") run with a window of `window` seconds.
    public static func method(bound: String, window: Double) -> String {
        if window > 0 { return wallWindow }
        return bound == "device" ? deviceEvents : hostClock
    }

    /// When co-tenants started to measure a common wall-clock window (forbc commit f5e7e3a); earlier co-tenants
    /// were timed by the workload itself, by a method the result does not tell.
    public static let windowsSince = Date(timeIntervalSince1970: 1_795_648_214)  // 2026-11-25T23:10:14Z

    /// The method of a result that does not record one, from its data: co-tenants measured after `windowsSince`
    /// were windowed (forbc had no way to turn it off); anything else is `fallback` (what the importer declares,
    /// else "unknown").
    public static func inferred(_ result: BenchResult, fallback: String? = nil) -> String {
        if result.tenants > 1 && result.time >= windowsSince { return wallWindow }
        return fallback ?? unknown
    }

    /// Whether two results' methods make a ratio of like with like: both known and the same.
    public static func comparable(_ a: String, _ b: String) -> Bool { a == b && a != unknown }

    /// Checks a declared method (`--timing`, or a result line's `timing`).
    public static func check(_ method: String, what: String) throws {
        guard known.contains(method) || method == unknown else {
            throw ForbcError(
                .invalidInput,
                "\(what) is '\(method)'; it must be one of \((known + [unknown]).joined(separator: ", "))")
        }
    }
}
