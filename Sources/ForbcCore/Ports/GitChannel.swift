import Foundation

/// The seam between forbc and git: reading where a manifest came from (provenance) and keeping forbc's own
/// checkout for `forbc sync`. Each call is one run of the `git` program with an explicit argument vector (a
/// repository is named with `-C DIR`), never a shell string. The real side is `RealGit`; `ForbcSimulator`'s
/// `ScriptedGit` answers from a script and can fail on demand.
public protocol GitChannel: Sendable {
    /// Runs `git` with `arguments`; what it printed and how it ended. Throws when git cannot be run at all
    /// (not installed, not startable, no answer within the channel's deadline).
    func run(_ arguments: [String]) throws -> GitOutput

    /// Whether `directory` or a folder above it holds a `.git` (a work tree's directory or a linked work tree's
    /// file): where none does, provenance starts no git at all.
    func mayBeInWorkTree(_ directory: String) -> Bool

    /// This channel with each run stopped after `seconds` at most (never more than its own limit): provenance
    /// asks git with a deadline of a few seconds, `forbc sync`'s fetch keeps the channel's long one.
    func limited(to seconds: Double) -> any GitChannel
}

extension GitChannel {
    /// The file system's answer (the real side's).
    public func mayBeInWorkTree(_ directory: String) -> Bool {
        ManifestSource.workTree(above: directory) != nil
    }
}

extension ForbcError {
    /// The error of a git run stopped at its deadline, naming the run (the real and the scripted side's words).
    public static func gitTimedOut(_ arguments: [String], after seconds: Double) -> ForbcError {
        let shown = seconds >= 1 && seconds == seconds.rounded() ? "\(Int(seconds))" : "\(seconds)"
        return ForbcError(
            .system, "'git \(arguments.joined(separator: " "))' did not end within \(shown) s and was stopped")
    }
}

/// What one run of git printed, and its exit status.
public struct GitOutput: Sendable, Equatable {
    public var status: Int32
    public var stdout: String
    public var stderr: String

    public init(status: Int32 = 0, stdout: String = "", stderr: String = "") {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
    }

    public var succeeded: Bool { status == 0 }

    /// git's own words for a failure, on one line: its non-empty stderr lines without the 'fatal: ' or
    /// 'error: ' prefix, up to the advice git adds after a blank line.
    public var words: String {
        var lines: [String] = []
        for line in stderr.split(separator: "\n", omittingEmptySubsequences: false) {
            let text = line.trimmingCharacters(in: .whitespaces)
            if text.isEmpty {
                if lines.isEmpty { continue } else { break }
            }
            var trimmed = Substring(text)
            for prefix in ["fatal: ", "error: "] where trimmed.hasPrefix(prefix) {
                trimmed = trimmed.dropFirst(prefix.count)
            }
            lines.append(String(trimmed))
        }
        return lines.isEmpty ? "exit status \(status), no message" : lines.joined(separator: "; ")
    }
}
