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

    /// The repository as forbc shows and records it: `remote` without credentials (the checkout's own
    /// `.git/config` is the only place a token in the URL stays, in a directory only its owner reads).
    public var shown: String { ManifestSource.withoutCredentials(remote) }

    /// Makes the checkout the first time (then `fresh` is true), or checks that it is clean and a checkout of
    /// `remote`; then fetches `branch` (nil: the remote's HEAD) and returns the commit fetched. The work tree
    /// and HEAD are left as they were. A fresh checkout whose first fetch fails is removed again.
    public func fetch(branch: String?) throws -> (commit: String, fresh: Bool) {
        let fresh = !FileManager.default.fileExists(atPath: directory)
        if fresh { try create() } else { try checkExisting() }
        try restrict()
        do {
            let ref = branch.map { "refs/heads/\($0)" } ?? "HEAD"
            try repository.run(
                ["fetch", "--quiet", "--no-tags", "origin", ref], doing: "fetching \(ref) of '\(shown)'")
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
            try Self.restrict(building.path)
            try inside.run(["remote", "add", "origin", remote], doing: "naming '\(shown)' as the checkout's origin")
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
        if let origin, origin != remote, ManifestSource.withoutCredentials(origin) == shown {
            // The same repository with other credentials (a token renewed): the checkout fetches with the new ones.
            try repository.run(["remote", "set-url", "origin", remote], doing: "giving '\(shown)' new credentials")
            return try checkClean()
        }
        guard origin == remote else {
            let fetches = origin.map(ManifestSource.withoutCredentials) ?? "no remote"
            throw ForbcError(
                .invalidInput,
                "the checkout \(directory) fetches '\(fetches)', not '\(shown)'; pass another '--checkout' for this "
                    + "repository, or remove that one", path: directory)
        }
        try checkClean()
    }

    /// Refuses a checkout with changes forbc did not make.
    func checkClean() throws {
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
            "commit \(commit.prefix(12)) of '\(shown)' \(why); nothing applied ('--require-signed' takes only "
                + "commits whose signature git verifies)")
    }

    /// Refuses `commit` unless `recorded` (the commit the last sync applied) is in its history: a force-push of an
    /// older commit (a rollback, however well signed) or a history rewritten under the host is not applied. The
    /// fetch brought `commit`'s whole history, so a recorded commit missing from the checkout is not in it.
    public func requireDescendant(of recorded: String, _ commit: String) throws {
        guard recorded != commit else { return }
        // sync.json is a file people can edit: anything but a commit's hex name is no commit git has.
        let hex = !recorded.isEmpty && recorded.allSatisfy(\.isHexDigit)
        let output =
            hex
            ? try repository.git.run(["-C", directory, "merge-base", "--is-ancestor", recorded, commit])
            : GitOutput(status: 128, stderr: "fatal: Not a valid commit name \(recorded)")
        if output.succeeded { return }
        let why: String
        switch output.status {
        case 1: why = "is not in the history of commit \(commit.prefix(12))"
        case 128 where !GitRepository.isOwnershipRefusal(output) && Self.isUnknownCommit(output):
            why = "no longer exists in '\(shown)' (its history was rewritten, or another repository is named)"
        default:
            throw repository.failure(output, doing: "checking that \(commit.prefix(12)) follows \(recorded.prefix(12))")
        }
        throw SyncRefused(
            "the last synced commit \(recorded.prefix(12)) \(why); going to commit \(commit.prefix(12)) of '\(shown)' "
                + "would go back in history; nothing applied; pass '--allow-rollback' if that is meant")
    }

    /// git's answer for a commit it does not have ("Not a valid commit name", "bad object").
    static func isUnknownCommit(_ output: GitOutput) -> Bool {
        ["not a valid commit name", "bad object", "not a valid object name"].contains {
            output.stderr.lowercased().contains($0)
        }
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
            "commit \(commit.prefix(12)) of '\(shown)' has no manifest for host '\(host)': \(what) in it; "
                + "nothing applied; add the host's manifest there, or pass the '--path' that holds it")
    }

    /// Moves the work tree and HEAD to `commit` (detached; the checkout is clean, so nothing is lost).
    public func checkOut(_ commit: String) throws {
        try repository.run(
            ["checkout", "--quiet", "--force", "--detach", commit], doing: "checking out \(commit.prefix(12))")
    }

    /// The commit checked out now, or nil before the first.
    public func head() throws -> String? { try repository.head() }

    /// The checkout only its owner may enter (0700): its `.git/config` holds the URL as given, a token included.
    func restrict() throws {
        try Self.restrict(directory)
    }

    static func restrict(_ path: String) throws {
        do {
            try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: path)
        } catch {
            throw ForbcError(
                .system, "making \(path) readable by its owner only failed: \(error.localizedDescription)", path: path,
                cause: error)
        }
    }

    /// Removes a checkout this run created (its first sync failed: the next one starts afresh).
    public func discard() {
        try? FileManager.default.removeItem(atPath: directory)
    }
}
