import Foundation

/// A git work tree read and changed through the git seam: every call is `git -C DIRECTORY …`. Failures
/// become forbc's errors with git's own words; the two that people meet most get a remedy (git missing,
/// a repository owned by another user that git refuses to read: 'safe.directory').
public struct GitRepository: Sendable {
    public let git: any GitChannel
    public let directory: String

    public init(git: any GitChannel, directory: String) {
        self.git = git
        self.directory = directory
    }

    /// Runs `git -C directory [-c …] arguments`; git's output, or an error saying what failed in git's words.
    @discardableResult
    public func run(_ arguments: [String], config: [String] = [], doing what: String? = nil) throws -> String {
        let output = try git.run(["-C", directory] + config.flatMap { ["-c", $0] } + arguments)
        guard output.succeeded else {
            throw failure(output, doing: what ?? "'git \(arguments.joined(separator: " "))'")
        }
        return output.stdout
    }

    /// The error for a failed run: git's words, with the remedy for an ownership refusal.
    public func failure(_ output: GitOutput, doing what: String) -> ForbcError {
        if Self.isOwnershipRefusal(output) {
            let repository = Self.refusedRepository(output) ?? directory
            return ForbcError(
                .system,
                "\(what) failed: git refuses the repository at \(repository): it is owned by another user "
                    + "('safe.directory'); if you trust it, run 'git config --global --add safe.directory "
                    + "\(repository)' as the user forbc runs as", path: repository)
        }
        return ForbcError(.system, "\(what) in \(directory) failed: \(output.words)", path: directory)
    }

    static func isOwnershipRefusal(_ output: GitOutput) -> Bool {
        output.stderr.contains("detected dubious ownership")
    }

    /// The repository git names in its refusal ("detected dubious ownership in repository at '/srv/infra'").
    static func refusedRepository(_ output: GitOutput) -> String? {
        let marker = "dubious ownership in repository at '"
        guard let start = output.stderr.range(of: marker) else { return nil }
        let rest = output.stderr[start.upperBound...]
        return rest.firstIndex(of: "'").map { String(rest[..<$0]) }
    }

    static func isNotARepository(_ output: GitOutput) -> Bool {
        output.stderr.contains("not a git repository")
    }

    /// The changes in the work tree, one `(status, path)` per file as `git status --porcelain` gives them
    /// ("??" untracked, " M" modified…); untracked files count unless `untracked` is false.
    public func changes(untracked: Bool = true) throws -> [(status: String, path: String)] {
        let text = try run(
            ["status", "--porcelain=v1", "-z", "--untracked-files=\(untracked ? "all" : "no")"],
            doing: "reading the status of the work tree")
        var entries: [(String, String)] = []
        var fields = text.split(separator: "\0", omittingEmptySubsequences: true).makeIterator()
        while let field = fields.next() {
            guard field.count > 3 else { continue }
            let status = String(field.prefix(2))
            entries.append((status, String(field.dropFirst(3))))
            // A rename or copy carries its source path as the next field.
            if status.contains("R") || status.contains("C") { _ = fields.next() }
        }
        return entries
    }

    /// The commit HEAD names, or nil when the repository has none yet.
    public func head() throws -> String? {
        let output = try git.run(["-C", directory, "rev-parse", "--verify", "--quiet", "HEAD^{commit}"])
        if output.succeeded { return output.stdout.trimmingCharacters(in: .whitespacesAndNewlines) }
        if output.status == 1 && output.stderr.isEmpty { return nil }
        throw failure(output, doing: "reading HEAD")
    }

    /// The URL of remote `name`, or nil when there is no such remote.
    public func remoteURL(_ name: String = "origin") throws -> String? {
        let output = try git.run(["-C", directory, "config", "--get", "remote.\(name).url"])
        if output.succeeded { return output.stdout.trimmingCharacters(in: .newlines) }
        if output.status == 1 { return nil }
        throw failure(output, doing: "reading remote '\(name)'")
    }
}
