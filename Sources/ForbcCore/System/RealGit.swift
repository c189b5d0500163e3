import Foundation

/// The real side of the git seam: the `git` program found in `PATH`, started directly (no shell) with
/// `LC_ALL=C` (so its messages are git's English words, which forbc quotes and recognizes),
/// `GIT_TERMINAL_PROMPT=0` (a timer has nobody to type a password: git fails instead of waiting) and
/// `GIT_OPTIONAL_LOCKS=0` (reading status takes no lock a person's git would trip over).
public struct RealGit: GitChannel {
    /// Seconds a run may take (a fetch over a network included) before it is stopped.
    public var timeout: Double
    /// The `PATH` git is looked up in.
    public var searchPath: String

    public init(timeout: Double = 300, searchPath: String? = nil) {
        self.timeout = timeout
        self.searchPath = searchPath ?? ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    }

    /// The git executable, or nil when no directory of `searchPath` holds one.
    public var executable: String? {
        searchPath.split(separator: ":").map { "\($0.isEmpty ? "." : String($0))/git" }.first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
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
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = Self.environment(ProcessInfo.processInfo.environment)
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        let finished = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in finished.signal() }
        do {
            try RealProcesses.withNoSignalsBlocked { try process.run() }
        } catch {
            throw ForbcError(.system, "could not start \(executable): \(error.localizedDescription)", cause: error)
        }
        // Both pipes are read to their ends concurrently, so a full pipe never blocks git.
        let captured = Captured()
        let reading = DispatchGroup()
        DispatchQueue.global().async(group: reading) {
            captured.set(out: output.fileHandleForReading.readDataToEndOfFile())
        }
        DispatchQueue.global().async(group: reading) {
            captured.set(err: errors.fileHandleForReading.readDataToEndOfFile())
        }
        if finished.wait(timeout: .now() + timeout) == .timedOut {
            process.terminate()
            _ = finished.wait(timeout: .now() + 5)
            throw ForbcError(
                .system,
                "'git \(arguments.joined(separator: " "))' did not end within \(Int(timeout)) s and was stopped")
        }
        // A child git left behind (ssh) may hold the pipes open: what was read by then is the answer.
        _ = reading.wait(timeout: .now() + 5)
        let (out, err) = captured.get()
        return GitOutput(
            status: process.terminationReason == .exit ? process.terminationStatus : 128 + process.terminationStatus,
            stdout: String(decoding: out, as: UTF8.self), stderr: String(decoding: err, as: UTF8.self))
    }
}

/// What git printed, filled by the two readers.
private final class Captured: @unchecked Sendable {
    private let lock = NSLock()
    private var out = Data()
    private var err = Data()

    func set(out data: Data) { lock.withLock { out = data } }
    func set(err data: Data) { lock.withLock { err = data } }
    func get() -> (Data, Data) { lock.withLock { (out, err) } }
}
