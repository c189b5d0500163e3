import ForbcCore
import Foundation
import Synchronization

/// The simulated side of the git seam: each run is answered from a script keyed on its argument vector after
/// `-C DIR` (so one script serves any directory), and every call is recorded with its deadline. It stands in where
/// a real git cannot show what is tested: git missing, a repository another user owns, a run that never ends, an
/// answer git gives rarely.
public final class ScriptedGit: GitChannel, Sendable {
    private let answers: [[String]: GitOutput]
    private let missing: Bool
    private let stalls: Set<[String]>
    private let log: Log
    private let deadline: Double

    /// `answers` by arguments (without `-C DIR`); a run not in it ends as git ends outside a repository.
    /// With `missing`, git is not installed: every run throws. A run in `stalls` never ends: it is stopped at
    /// its deadline (300 s, or what `limited(to:)` gave) with the real side's error.
    public init(_ answers: [[String]: GitOutput], missing: Bool = false, stalls: Set<[String]> = []) {
        self.answers = answers
        self.missing = missing
        self.stalls = stalls
        self.log = Log()
        self.deadline = 300
    }

    private init(_ other: ScriptedGit, deadline: Double) {
        answers = other.answers
        missing = other.missing
        stalls = other.stalls
        log = other.log
        self.deadline = deadline
    }

    /// Every run's full argument vector, in order (those of its limited copies included).
    public var calls: [[String]] { log.runs.withLock { $0.map(\.arguments) } }

    /// Each run's deadline in seconds, in the order of `calls`.
    public var deadlines: [Double] { log.runs.withLock { $0.map(\.deadline) } }

    /// A script answers for made-up paths: git is asked wherever the script says.
    public func mayBeInWorkTree(_ directory: String) -> Bool { true }

    public func limited(to seconds: Double) -> any GitChannel { ScriptedGit(self, deadline: min(deadline, seconds)) }

    public func run(_ arguments: [String]) throws -> GitOutput {
        log.runs.withLock { $0.append((arguments, deadline)) }
        if missing {
            throw ForbcError(.unsupported, "git is not installed (no 'git' in PATH); install it (apt-get install git)")
        }
        var key = arguments
        if key.count >= 2 && key[0] == "-C" { key.removeFirst(2) }
        if stalls.contains(key) { throw ForbcError.gitTimedOut(arguments, after: deadline) }
        return answers[key]
            ?? GitOutput(
                status: 128, stderr: "fatal: not a git repository (or any of the parent directories): .git\n")
    }

    /// Provenance's question for the top level, the manifest's folder in it and HEAD.
    public static let place = ["rev-parse", "--show-toplevel", "--show-prefix", "--verify", "--quiet", "HEAD^{commit}"]
    /// Provenance's question for the remotes' URLs.
    public static let remotes = ["config", "--get-regexp", "^remote\\..*\\.url$"]

    /// Provenance's question whether the manifest `name` (in its folder) differs from HEAD.
    public static func status(of name: String) -> [String] {
        [
            "-c", "core.fsmonitor=false", "status", "--porcelain=v1", "-z", "--untracked-files=all",
            "--ignored=matching", "--", ":(literal)\(name)",
        ]
    }

    /// The answers of a work tree at `topLevel` whose origin is `origin` and HEAD `head`, holding the manifest
    /// `name` at `prefix` inside it; `status` is git's status of the manifest (empty: as committed).
    public static func workTree(
        topLevel: String, prefix: String = "", name: String, origin: String?, head: String?, status: String = ""
    ) -> [[String]: GitOutput] {
        [
            place: head.map { GitOutput(stdout: "\(topLevel)\n\(prefix)\n\($0)\n") }
                ?? GitOutput(status: 1, stdout: "\(topLevel)\n\(prefix)\n"),
            Self.status(of: name): GitOutput(stdout: status),
            remotes: origin.map { GitOutput(stdout: "remote.origin.url \($0)\n") } ?? GitOutput(status: 1),
        ]
    }
}

/// The runs of a script and of its limited copies.
private final class Log: Sendable {
    let runs = Mutex<[(arguments: [String], deadline: Double)]>([])
}
