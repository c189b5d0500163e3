import Foundation

/// The real side of the git seam: the `git` program found in `PATH`, started directly (no shell) with
/// `LC_ALL=C` (so its messages are git's English words, which forbc quotes and recognizes),
/// `GIT_TERMINAL_PROMPT=0` (a timer has nobody to type a password: git fails instead of waiting) and
/// `GIT_OPTIONAL_LOCKS=0` (reading status takes no lock a person's git would trip over), through `Spawn`. git
/// runs in a session of its own, without a controlling terminal: nothing it starts can prompt there (ssh asking
/// for a passphrase or to accept a host key fails at once rather than waiting, stopped by SIGTTIN, for the
/// deadline), and the user's ssh settings (`core.sshCommand`, `GIT_SSH_COMMAND`, ~/.ssh/config) stay in force.
/// A run that passes its deadline is stopped with everything it started (git's process group: an ssh, a hook's
/// shell).
public struct RealGit: GitChannel {
    /// Seconds a run may take (a fetch over a network included) before it is stopped.
    public var timeout: Double
    /// The `PATH` git is looked up in.
    public var searchPath: String
    /// Variables added to git's environment (the tests trace git with `GIT_TRACE2_EVENT`).
    public var extraEnvironment: [String: String] = [:]

    public init(timeout: Double = 300, searchPath: String? = nil) {
        self.timeout = timeout
        self.searchPath = searchPath ?? ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    }

    /// The git executable, or nil when no directory of `searchPath` holds one.
    public var executable: String? { Spawn.lookUp("git", path: searchPath) }

    public func limited(to seconds: Double) -> any GitChannel {
        var limited = self
        limited.timeout = min(timeout, seconds)
        return limited
    }

    /// forbc's environment for git: the repository is always named by `-C`, so variables that would point git
    /// at another one (a git hook's GIT_DIR, GIT_WORK_TREE…) are dropped.
    static func environment(_ inherited: [String: String]) -> [String: String] {
        let pointing: Set = [
            "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_COMMON_DIR", "GIT_PREFIX",
            "GIT_NAMESPACE",
        ]
        return inherited.filter { !pointing.contains($0.key) }.merging(
            ["LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0"]
        ) { $1 }
    }

    public func run(_ arguments: [String]) throws -> GitOutput {
        guard let executable else {
            throw ForbcError(
                .unsupported, "git is not installed (no 'git' in PATH \(searchPath)); install it (apt-get install git)")
        }
        let environment = Self.environment(ProcessInfo.processInfo.environment).merging(extraEnvironment) { $1 }
        let request = Spawn.Request(
            executable: executable, arguments: arguments, environment: environment, timeout: timeout, grace: 1,
            ownSession: true)
        let shown = "'git \(arguments.joined(separator: " "))'"
        do {
            let result = try Spawn.run(request)
            return GitOutput(
                status: result.end.status, stdout: String(decoding: result.stdout, as: UTF8.self),
                stderr: String(decoding: result.stderr, as: UTF8.self))
        } catch .timedOut {
            throw ForbcError.gitTimedOut(arguments, after: timeout)
        } catch .notStarted(let reason, let code) {
            throw ForbcError(.system, "could not start \(shown) (\(executable)): \(reason)", errno: code)
        } catch .outputNotEnded {
            // Partial output is no answer: an empty `status` would read as "not dirty".
            throw ForbcError(
                .system,
                "\(shown) ended but its output did not (a process it started kept it open, or reading it failed); "
                    + "it was stopped")
        } catch .waitFailed(let code) {
            throw ForbcError(
                .system, "the exit status of \(shown) could not be read: \(String(cString: strerror(code)))",
                errno: code)
        } catch .notEnded(let pid) {
            throw ForbcError(.system, "\(shown) \(Spawn.Failure.notEndedWords(pid))")
        }
    }
}
