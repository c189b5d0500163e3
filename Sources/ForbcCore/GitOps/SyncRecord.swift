import Foundation

/// What the last successful `forbc sync` took, kept in the state dir (`sync.json`): the next run compares
/// against it, and people read which commit a host runs.
public struct SyncRecord: Sendable, Codable, Equatable {
    public var repository: String
    public var branch: String?
    /// The manifest's path inside the repository (the template resolved for this host).
    public var path: String
    public var commit: String
    /// When it was synced (ISO 8601, UTC).
    public var syncedAt: String
    /// The changes that sync made (0: the host already matched).
    public var changes: Int

    public init(repository: String, branch: String?, path: String, commit: String, syncedAt: Date, changes: Int) {
        self.repository = repository
        self.branch = branch
        self.path = path
        self.commit = commit
        self.syncedAt = ISO8601DateFormatter().string(from: syncedAt)
        self.changes = changes
    }

    public static func url(in store: StateStore) -> URL { store.directory.appendingPathComponent("sync.json") }

    /// The record in `store`, or nil before the first sync.
    public static func load(from store: StateStore) throws -> SyncRecord? {
        let url = url(in: store)
        let remedy = "remove it (the next sync writes it again)"
        let data: Data
        do {
            guard
                let read = try StateDirFile.read(url, what: "the sync record")
            else { return nil }
            data = read
        } catch var error as ForbcError where error.errno != Errno.ELOOP {
            // (a link there has its own remedy: remove the link)
            error.message += "; \(remedy)"
            throw error
        }
        do {
            return try JSONDecoder().decode(SyncRecord.self, from: data)
        } catch {
            throw ForbcError(
                .system, "reading \(url.path) failed: \(error); \(remedy)",
                path: url.path, cause: error)
        }
    }

    public func save(in store: StateStore) throws {
        try store.ensureDirectory()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        // Readable by forbc's user only: it names the repository and the commit a host runs.
        try AtomicFile.write(try encoder.encode(self), to: Self.url(in: store), mode: 0o600)
    }
}

/// The `--path` of `forbc sync`: a path inside the repository in which `%H` stands for the short host name
/// (up to the first dot), `%h` for the whole host name and `%%` for a percent sign.
public enum SyncPath {
    /// The path for `hostname`; an error for another `%` sequence, a host name that cannot be part of a path,
    /// or a path that is absolute or leaves the repository ('..').
    public static func resolve(_ template: String, hostname: String) throws -> String {
        guard !hostname.isEmpty,
            hostname.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-._".contains($0)) }),
            !hostname.hasPrefix(".")
        else {
            throw ForbcError(.invalidInput, "the host name '\(hostname)' cannot be part of a path; pass '--hostname'")
        }
        let short = String(hostname.prefix { $0 != "." })
        var path = ""
        var characters = template.makeIterator()
        while let character = characters.next() {
            guard character == "%" else {
                path.append(character)
                continue
            }
            switch characters.next() {
            case "H": path += short
            case "h": path += hostname
            case "%": path += "%"
            case let other:
                throw ForbcError(
                    .invalidInput,
                    "'--path \(template)': '%\(other.map(String.init) ?? "")' stands for nothing; use %H (short host "
                        + "name), %h (host name) or %% (a percent sign)")
            }
        }
        let components = path.split(separator: "/", omittingEmptySubsequences: false)
        guard !path.hasPrefix("/"), !components.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) else {
            throw ForbcError(
                .invalidInput,
                "'--path \(template)' gives '\(path)', which is not a plain path inside the repository (no leading "
                    + "'/', no '.' or '..', no empty part)")
        }
        return path
    }
}
