import ForbcCore
import Foundation
import Synchronization

/// The simulated side of the git seam: each run is answered from a script keyed on its argument vector after
/// `-C DIR` (so one script serves any directory), and every call is recorded. It stands in where a real git
/// cannot show what is tested: git missing, a repository another user owns, an answer git gives rarely.
public final class ScriptedGit: GitChannel, Sendable {
    private let answers: [[String]: GitOutput]
    private let missing: Bool
    private let recorded = Mutex<[[String]]>([])

    /// `answers` by arguments (without `-C DIR`); a run not in it ends as git ends outside a repository.
    /// With `missing`, git is not installed: every run throws.
    public init(_ answers: [[String]: GitOutput], missing: Bool = false) {
        self.answers = answers
        self.missing = missing
    }

    /// Every run's full argument vector, in order.
    public var calls: [[String]] { recorded.withLock { $0 } }

    /// A script answers for made-up paths: git is asked wherever the script says.
    public func mayBeInWorkTree(_ directory: String) -> Bool { true }

    public func run(_ arguments: [String]) throws -> GitOutput {
        recorded.withLock { $0.append(arguments) }
        if missing {
            throw ForbcError(.unsupported, "git is not installed (no 'git' in PATH); install it (apt-get install git)")
        }
        var key = arguments
        if key.count >= 2 && key[0] == "-C" { key.removeFirst(2) }
        return answers[key]
            ?? GitOutput(
                status: 128, stderr: "fatal: not a git repository (or any of the parent directories): .git\n")
    }

    /// The answers of a clean work tree at `topLevel` whose origin is `origin` and HEAD `head`, holding the
    /// manifest `name` at `prefix` inside it.
    public static func workTree(
        topLevel: String, prefix: String = "", name: String, origin: String?, head: String?, status: String = ""
    ) -> [[String]: GitOutput] {
        [
            ["rev-parse", "--show-toplevel", "--show-prefix"]: GitOutput(stdout: "\(topLevel)\n\(prefix)\n"),
            ["status", "--porcelain=v1", "-z", "--untracked-files=no"]: GitOutput(stdout: status),
            ["ls-files", "-z", "--", name]: GitOutput(stdout: "\(prefix)\(name)\0"),
            ["rev-parse", "--verify", "--quiet", "HEAD^{commit}"]: head.map { GitOutput(stdout: "\($0)\n") }
                ?? GitOutput(status: 1),
            ["config", "--get", "remote.origin.url"]: origin.map { GitOutput(stdout: "\($0)\n") }
                ?? GitOutput(status: 1),
            ["config", "--get-regexp", "^remote\\..*\\.url$"]: GitOutput(status: 1),
        ]
    }
}
