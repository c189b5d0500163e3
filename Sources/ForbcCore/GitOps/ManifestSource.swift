import Foundation

/// Where a manifest came from when it sits in a git work tree: recorded by plan (JSON), apply (the state dir)
/// and drift (metrics), so a host says which commit it was applied from.
public struct ManifestSource: Sendable, Codable, Equatable {
    /// The remote's URL (origin's, else the first remote's), without any user or password in it; the work
    /// tree's top-level directory when the repository has no remote.
    public var repository: String
    /// The commit checked out (HEAD), or nil in a repository with no commit yet.
    public var commit: String?
    /// The manifest's path inside the repository.
    public var path: String
    /// Whether the work tree differs from the commit: a tracked file changed, or the manifest is not committed.
    public var dirty: Bool

    public init(repository: String, commit: String?, path: String, dirty: Bool) {
        self.repository = repository
        self.commit = commit
        self.path = path
        self.dirty = dirty
    }

    /// One line for people: "hosts/a.yaml at 1a2b3c4d5e6f in https://git.example/infra.git".
    public var summary: String {
        let at = commit.map { "at \($0.prefix(12))" } ?? "with no commit yet"
        return "\(path) \(at) in \(repository)\(dirty ? " (dirty: uncommitted changes)" : "")"
    }

    /// `text` (a URL, or a message that quotes URLs) without the user information a URL may carry
    /// (https://user:token@host/…): a repository ends up in state files, metrics, output and error messages, a
    /// credential must not. The one function for every URL forbc shows or saves.
    public static func withoutCredentials(_ text: String) -> String {
        var result = ""
        var rest = Substring(text)
        while let scheme = rest.range(of: "://") {
            let before = rest[..<scheme.lowerBound]
            let after = rest[scheme.upperBound...]
            let authority = after.prefix { $0 != "/" && $0 != "'" && $0 != "\"" && !$0.isWhitespace }
            result += rest[..<scheme.upperBound]
            rest = after
            guard let at = authority.lastIndex(of: "@") else { continue }
            let user = authority[..<at]
            // ssh://git@host/… names an account, not a secret; a password (user:secret@) or a token is dropped.
            let name = before.reversed().prefix { $0.isLetter || $0.isNumber || "+.-".contains($0) }
            if String(name.reversed()).lowercased().contains("ssh") && !user.contains(":") { continue }
            rest = after[after.index(after: at)...]
        }
        return result + rest
    }
}
