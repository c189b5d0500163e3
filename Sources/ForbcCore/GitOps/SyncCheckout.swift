import Foundation

/// `forbc sync` refused a commit (a dirty checkout, a signature git does not accept, no manifest for this
/// host, destruction not allowed): nothing was applied and the previous checkout is unchanged.
public struct SyncRefused: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
}

/// forbc's own checkout of a repository for `forbc sync` (under the state dir unless named): created the first
/// time, then fetched and moved to the fetched commit with a forced, detached checkout. Nobody else should
/// edit it; a change someone made there is a refusal, never overwritten.
public struct SyncCheckout: Sendable {
    public let repository: GitRepository
    /// The repository to fetch: a URL, or a local path made absolute.
    public let remote: String

    public init(git: any GitChannel, directory: String, remote: String) {
        repository = GitRepository(git: git, directory: directory)
        self.remote = remote
    }

    public var directory: String { repository.directory }

    /// Makes the checkout the first time (then `fresh` is true), or checks that it is clean and a checkout of
    /// `remote`; then fetches `branch` (nil: the remote's HEAD) and returns the commit fetched. The work tree
    /// and HEAD are left as they were. A fresh checkout whose first fetch fails is removed again.
    public func fetch(branch: String?) throws -> (commit: String, fresh: Bool) {
        let fresh = !FileManager.default.fileExists(atPath: directory)
        if fresh { try create() } else { try checkExisting() }
        do {
            let ref = branch.map { "refs/heads/\($0)" } ?? "HEAD"
            try repository.run(
                ["fetch", "--quiet", "--no-tags", "origin", ref], doing: "fetching \(ref) of '\(remote)'")
            let commit = try repository.run(
                ["rev-parse", "--verify", "FETCH_HEAD^{commit}"], doing: "reading the fetched commit")
            return (commit.trimmingCharacters(in: .whitespacesAndNewlines), fresh)
        } catch {
            if fresh { discard() }
            throw error
        }
    }

    /// `git init` beside the final place, then a rename: a checkout is never half made.
    func create() throws {
        let final = URL(fileURLWithPath: directory)
        let parent = final.deletingLastPathComponent()
        let building = parent.appendingPathComponent(".\(final.lastPathComponent).forbc-new")
        do {
            try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true)
            try? FileManager.default.removeItem(at: building)
        } catch {
            throw ForbcError(
                .system, "creating \(parent.path) for the checkout failed: \(error.localizedDescription)",
                path: parent.path, cause: error)
        }
        let staged = GitRepository(git: repository.git, directory: parent.path)
        try staged.run(["init", "--quiet", "--", building.lastPathComponent], doing: "creating a checkout")
        let inside = GitRepository(git: repository.git, directory: building.path)
        do {
            try inside.run(["remote", "add", "origin", remote], doing: "naming '\(remote)' as the checkout's origin")
            try FileManager.default.moveItem(at: building, to: final)
        } catch {
            try? FileManager.default.removeItem(at: building)
            throw error
        }
    }

    /// An existing checkout must be forbc's checkout of `remote`, with nothing changed in it.
    func checkExisting() throws {
        let origin: String?
        do {
            // Its own repository: git would otherwise read the one around it (a state dir inside a work tree).
            guard FileManager.default.fileExists(atPath: directory + "/.git") else {
                throw ForbcError(.invalidInput, "it has no '.git'")
            }
            origin = try repository.remoteURL()
        } catch let error as ForbcError {
            throw ForbcError(
                .invalidInput,
                "\(directory) is not a git checkout forbc can use (\(error.message)); remove it or pass another "
                    + "'--checkout'", path: directory)
        }
        guard origin == remote else {
            throw ForbcError(
                .invalidInput,
                "the checkout \(directory) fetches '\(origin ?? "no remote")', not '\(remote)'; pass another "
                    + "'--checkout' for this repository, or remove that one", path: directory)
        }
        let changes = try repository.changes()
        guard changes.isEmpty else {
            let files = changes.prefix(10).map { "'\($0.path)' (\(Self.describe($0.status)))" }
            let more = changes.count > 10 ? " and \(changes.count - 10) more" : ""
            throw SyncRefused(
                "the checkout \(directory) has changes forbc did not make: \(files.joined(separator: ", "))\(more); "
                    + "nothing applied; edit the repository, not forbc's checkout (to drop them: 'git -C "
                    + "\(directory) checkout --force HEAD && git -C \(directory) clean -fd')")
        }
    }

    static func describe(_ status: String) -> String {
        if status == "??" { return "untracked" }
        if status.contains("D") { return "deleted" }
        if status.contains("A") { return "added" }
        if status.contains("R") { return "renamed" }
        return "modified"
    }

    /// Refuses `commit` unless `git verify-commit` accepts its signature. `allowedSigners` names the file of
    /// SSH keys allowed to sign (git's `gpg.ssh.allowedSignersFile`); OpenPGP signatures use gpg's keyring.
    public func verifySignature(_ commit: String, allowedSigners: String?) throws {
        let config = allowedSigners.map { ["gpg.ssh.allowedSignersFile=\($0)"] } ?? []
        let output = try repository.git.run(
            ["-C", directory] + config.flatMap { ["-c", $0] } + ["verify-commit", "--", commit])
        guard !output.succeeded else { return }
        if GitRepository.isOwnershipRefusal(output) { throw repository.failure(output, doing: "verifying \(commit)") }
        // An unsigned commit: verify-commit fails without a word.
        let why =
            output.stderr.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
            ? "is not signed" : "has a signature 'git verify-commit' does not accept: \(output.words)"
        throw SyncRefused(
            "commit \(commit.prefix(12)) of '\(remote)' \(why); nothing applied ('--require-signed' takes only "
                + "commits whose signature git verifies)")
    }

    /// Refuses `commit` unless it holds a file at `path` (the manifest for `host`).
    public func requireManifest(_ commit: String, path: String, host: String) throws {
        let entry = try repository.run(
            ["ls-tree", "-z", commit, "--", path], doing: "looking for \(path) in commit \(commit.prefix(12))")
        let fields = entry.split(separator: "\t", maxSplits: 1).first?.split(separator: " ") ?? []
        if fields.count == 3 && (fields[1] == "blob") { return }
        let what =
            fields.count == 3
            ? "'\(path)' is a \(fields[1] == "tree" ? "directory" : "\(fields[1])")" : "no file '\(path)'"
        throw SyncRefused(
            "commit \(commit.prefix(12)) of '\(remote)' has no manifest for host '\(host)': \(what) in it; "
                + "nothing applied; add the host's manifest there, or pass the '--path' that holds it")
    }

    /// Moves the work tree and HEAD to `commit` (detached; the checkout is clean, so nothing is lost).
    public func checkOut(_ commit: String) throws {
        try repository.run(
            ["checkout", "--quiet", "--force", "--detach", commit], doing: "checking out \(commit.prefix(12))")
    }

    /// The commit checked out now, or nil before the first.
    public func head() throws -> String? { try repository.head() }

    /// Removes a checkout this run created (its first sync failed: the next one starts afresh).
    public func discard() {
        try? FileManager.default.removeItem(atPath: directory)
    }
}
