import Foundation

extension ManifestSource {
    /// Seconds each of provenance's git runs may take before it is stopped (a warning, not an error, for plan,
    /// apply and drift): git is asked only about the manifest's own path, so a run takes milliseconds whatever the
    /// size of the work tree, and seconds on an emulated machine.
    public static let gitDeadline: Double = 5

    /// Where the manifest at `path` came from, or nil when it is not in a git work tree (no error: provenance
    /// is recorded where there is some). Throws when it is in one but git cannot say (git missing, a repository
    /// git refuses to read, a run past its `deadline`); callers decide whether that stops them.
    ///
    /// Three runs of git at most, none of which reads more of the work tree than the manifest: `rev-parse` (the
    /// top level, the manifest's folder in it, HEAD), `status` of the manifest alone (whether it differs from
    /// HEAD) and `config` (the remotes' URLs).
    public static func lookup(
        manifest path: String, git channel: any GitChannel, deadline: Double = gitDeadline
    ) throws -> ManifestSource? {
        let file = URL(fileURLWithPath: path).standardizedFileURL
        let directory = file.deletingLastPathComponent().path
        // No `.git` at or above the manifest: not in a work tree, and no git process is started (a drift from
        // cron of /etc/forbc/host.yaml spawns nothing).
        guard channel.mayBeInWorkTree(directory) else { return nil }
        let asking = Asking(
            repository: GitRepository(git: channel.limited(to: deadline), directory: directory), manifest: path)
        guard let place = try asking.place() else { return nil }
        let name = file.lastPathComponent
        let dirty = try asking.differs(name, topLevel: place.topLevel)
        return ManifestSource(
            repository: try asking.repositoryName(topLevel: place.topLevel), commit: place.head,
            path: place.prefix + name, dirty: dirty)
    }

    /// The nearest directory at or above `directory` holding a `.git` (a work tree), if any.
    public static func workTree(above directory: String) -> String? {
        var url = URL(fileURLWithPath: directory).standardizedFileURL
        while true {
            if FileManager.default.fileExists(atPath: url.appendingPathComponent(".git").path) { return url.path }
            let parent = url.deletingLastPathComponent()
            if parent.path == url.path { return nil }
            url = parent
        }
    }
}

/// Provenance's questions to git about one manifest, in the manifest's folder.
private struct Asking {
    let repository: GitRepository
    let manifest: String

    /// Runs git; a run git could not make (not installed, stopped at its deadline) becomes an error that names
    /// the manifest and its work tree (`tree`, when known).
    func ask(_ arguments: [String], tree: String?) throws -> GitOutput {
        do {
            return try repository.git.run(["-C", repository.directory] + arguments)
        } catch let error as ForbcError {
            let place = tree.map { "the manifest \(manifest) is in the git work tree \($0), but" }
            throw ForbcError(
                error.code, "\(place ?? "reading the provenance of \(manifest):") \(error.message)", path: manifest,
                cause: error)
        }
    }

    /// The work tree's top level, the manifest's folder in it ("hosts/", or "" at the top) and HEAD (nil before
    /// the first commit); nil when the folder is not in a work tree after all.
    func place() throws -> (topLevel: String, prefix: String, head: String?)? {
        let output: GitOutput
        do {
            output = try ask(
                ["rev-parse", "--show-toplevel", "--show-prefix", "--verify", "--quiet", "HEAD^{commit}"],
                tree: ManifestSource.workTree(above: repository.directory))
        } catch let error as ForbcError {
            // git missing where no `.git` is found (a scripted channel's made-up path): no work tree to describe.
            if ManifestSource.workTree(above: repository.directory) == nil { return nil }
            throw error
        }
        // Status 1 without a word: HEAD names no commit yet; the top level and prefix are printed before it.
        guard output.succeeded || (output.status == 1 && output.stderr.isEmpty) else {
            if GitRepository.isNotARepository(output) { return nil }
            throw repository.failure(output, doing: "reading the repository of \(manifest)")
        }
        let lines = output.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let topLevel = lines.first, !topLevel.isEmpty, lines.count >= 2 else { return nil }
        let head = output.succeeded && lines.count > 2 && !lines[2].isEmpty ? lines[2] : nil
        return (topLevel, lines[1], head)
    }

    /// Whether the manifest `name` (in the manifest's folder) differs from HEAD: changed in the work tree or
    /// the index, not committed, untracked or ignored. Other files of the work tree do not count, and git reads
    /// no other: the path limits both the index refresh and the search for untracked files (a work tree whose
    /// files' cached stat data no longer match, under an overlay, is not hashed whole on each run).
    func differs(_ name: String, topLevel: String) throws -> Bool {
        let output = try ask(
            [
                "-c", "core.fsmonitor=false", "status", "--porcelain=v1", "-z", "--untracked-files=all",
                "--ignored=matching", "--", ":(literal)\(name)",
            ], tree: topLevel)
        guard output.succeeded else {
            throw repository.failure(output, doing: "reading whether \(manifest) differs from the commit")
        }
        return !output.stdout.isEmpty
    }

    /// The repository as provenance names it: origin's URL, else the first remote's (by name), else `topLevel`.
    func repositoryName(topLevel: String) throws -> String {
        let output = try ask(["config", "--get-regexp", "^remote\\..*\\.url$"], tree: topLevel)
        if !output.succeeded && output.status != 1 {
            throw repository.failure(output, doing: "reading the remotes")
        }
        // A key given more than once (a url in ~/.gitconfig and another in the repository's config) counts with
        // its last value, as `git config --get remote.NAME.url` reads it (how forbc asked before).
        var remotes: [String: String] = [:]
        for line in output.stdout.split(separator: "\n") {
            guard let space = line.firstIndex(of: " ") else { continue }
            remotes[String(line[..<space])] = String(line[space...].dropFirst())
        }
        let chosen = remotes["remote.origin.url"] ?? remotes.min { $0.key < $1.key }?.value
        return chosen.map { ManifestSource.withoutCredentials($0) } ?? topLevel
    }
}
