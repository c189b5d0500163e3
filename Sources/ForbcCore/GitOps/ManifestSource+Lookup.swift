import Foundation

extension ManifestSource {
    /// Where the manifest at `path` came from, or nil when it is not in a git work tree (no error: provenance
    /// is recorded where there is some). Throws when it is in one but git cannot say (git missing, a repository
    /// git refuses to read); callers decide whether that stops them.
    public static func lookup(manifest path: String, git: any GitChannel) throws -> ManifestSource? {
        let file = URL(fileURLWithPath: path).standardizedFileURL
        let directory = file.deletingLastPathComponent().path
        // No `.git` at or above the manifest: not in a work tree, and no git process is started (a drift from
        // cron of /etc/forbc/host.yaml spawns nothing; in the kernel lab's TCG guest, git's runs were what hung).
        guard git.mayBeInWorkTree(directory) else { return nil }
        let repository = GitRepository(git: git, directory: directory)
        let output: GitOutput
        do {
            output = try git.run(["-C", directory, "rev-parse", "--show-toplevel", "--show-prefix"])
        } catch let error as ForbcError {
            guard let tree = workTree(above: directory) else { return nil }
            throw ForbcError(error.code, "the manifest is in the git work tree \(tree), but \(error.message)")
        }
        guard output.succeeded else {
            if GitRepository.isNotARepository(output) { return nil }
            throw repository.failure(output, doing: "reading the repository of \(path)")
        }
        let lines = output.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let topLevel = lines.first, !topLevel.isEmpty else { return nil }
        let prefix = lines.count > 1 ? lines[1] : ""
        let name = file.lastPathComponent
        var dirty = try !repository.changes(untracked: false).isEmpty
        if !dirty {
            // A manifest that is not committed is not described by any commit.
            let tracked = try repository.run(
                ["ls-files", "-z", "--", name], doing: "reading whether \(path) is tracked")
            dirty = tracked.isEmpty
        }
        return ManifestSource(
            repository: try repository.repositoryName(topLevel: topLevel), commit: try repository.head(),
            path: prefix + name, dirty: dirty)
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
