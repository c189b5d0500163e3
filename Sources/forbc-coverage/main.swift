import ForbcStats
import Foundation

// 95% interval coverage of forbc's benchmark statistics over simulated trials with a known truth: launches whose
// means differ (half the variance between launches), four co-tenants twice as noisy as the baseline sharing part
// of each window's noise. `swift run -c release forbc-coverage [TRIALS]`; the table goes in the closing note.

/// Prints a line at once (the table comes row by row).
func say(_ line: String) {
    print(line)
    fflush(nil)
}

let trials = CommandLine.arguments.dropFirst().first.flatMap { Int($0) } ?? 1000
let started = Date()
say("95% interval coverage over \(trials) simulated trials a row (hierarchical bootstrap, 10,000 resamples);")
say("launch effect: half the variance between launches; 4 co-tenants with 2x the baseline's noise.")
say("'flat' is the bootstrap that treats every value as independent (forbc before issue 17).")
say("")
say("launches x reps | median  ratio   aggregate | null 'significant' | flat median  flat ratio  flat null")
for (launches, repetitions) in [(2, 5), (3, 5), (5, 5), (10, 5), (20, 3)] {
    var setting = Coverage.Setting()
    setting.launches = launches
    setting.repetitions = repetitions
    setting.trials = trials
    let o = Coverage.run(setting)
    func p(_ v: Double) -> String { String(format: "%5.1f%%", v * 100) }
    let label = "\(launches) x \(repetitions)\(launches == 10 ? " (default)" : "")"
    say(
        label.padding(toLength: 16, withPad: " ", startingAt: 0)
            + "| \(p(o.median)) \(p(o.ratio))  \(p(o.aggregate))    | \(p(o.nullSignificant))             "
            + "| \(p(o.flatMedian))       \(p(o.flatRatio))      \(p(o.flatNullSignificant))")
}
say("")
say("Outlier flags on clean normal samples (share of samples with at least one flag, 10,000 samples):")
say("launches x values | pooled |M| > 3.5 (before) | within-launch |M| > 10 (forbc)")
for (launches, count) in [(1, 5), (1, 6), (1, 30), (2, 3), (2, 5), (10, 5)] {
    let old = Coverage.cleanOutlierRate(count: count, launches: launches, threshold: 3.5, trials: 10_000, seed: 5)
    let new = Coverage.cleanOutlierRate(count: count, launches: launches, threshold: 10, trials: 10_000, seed: 5)
    say(String(format: "%8d x %-6d | %22.1f%% | %29.2f%%", launches, count, old * 100, new * 100))
}
say("")
say("Warnings on clean data (no launch effect, 1% CV; share of 2,000 results):")
for (launches, repetitions) in [(2, 3), (2, 5), (10, 5)] {
    let rates = Coverage.cleanWarningRates(launches: launches, repetitions: repetitions, trials: 2000, seed: 9)
    let text = rates.sorted { $0.key < $1.key }.map { String(format: "%@ %.1f%%", $0.key, $0.value * 100) }
    say("  \(launches) x \(repetitions): " + (text.isEmpty ? "none" : text.joined(separator: ", ")))
}
say(String(format: "\n%.1f s", Date().timeIntervalSince(started)))
