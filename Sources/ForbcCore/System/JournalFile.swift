import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// An append-only file of JSON lines. Each append is one write(2) with O_APPEND, so a killed forbc leaves at
/// most a torn last line, which reading skips. Appends are not fsynced: the threat is a killed process (the page
/// cache survives it), not a lost machine; snapshots are.
public struct JournalFile: Sendable {
    public let url: URL

    public init(url: URL) { self.url = url }

    /// Appends `entries`, one JSON line each, in one write; returns the bytes appended.
    @discardableResult
    public func append<T: Encodable>(_ entries: [T]) throws -> Int {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var bytes: [UInt8] = []
        for entry in entries {
            bytes += Array(try encoder.encode(entry))
            bytes.append(0x0A)
        }
        let fd = open(url.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ForbcError.sysfs("opening the journal", path: url.path, errno: errno) }
        defer { close(fd) }
        var offset = 0
        while offset < bytes.count {
            let count = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw ForbcError.sysfs("appending to the journal", path: url.path, errno: errno)
            }
            offset += count
        }
        return bytes.count
    }

    /// The journal's size in bytes (0 when it does not exist).
    public var size: Int {
        ((try? FileManager.default.attributesOfItem(atPath: url.path))?[.size] as? Int) ?? 0
    }

    /// Every entry in order; a torn last line (a kill during its write) is skipped, any other bad line is an error.
    public func entries<T: Decodable>(_ type: T.Type) throws -> [T] {
        guard
            let data = try BoundedFile.readIfPresent(url.path, limit: BoundedFile.stateLimit, what: "a journal"),
            !data.isEmpty
        else { return [] }
        let lines = data.split(separator: 0x0A, omittingEmptySubsequences: true)
        let complete = data.last == 0x0A
        var entries: [T] = []
        let decoder = JSONDecoder()
        for (index, line) in lines.enumerated() {
            do {
                entries.append(try decoder.decode(T.self, from: Data(line)))
            } catch {
                if index == lines.count - 1 && !complete { break }
                throw ForbcError(
                    .system,
                    "line \(index + 1) of \(url.path) is not a journal entry: \(error); move the file aside to drop "
                        + "the changes it holds", path: url.path, cause: error)
            }
        }
        return entries
    }

    /// Empties the journal (after a snapshot has taken its changes in).
    public func truncate() throws {
        guard FileManager.default.fileExists(atPath: url.path) else { return }
        guard Glibc.truncate(url.path, 0) == 0 else {
            throw ForbcError.sysfs("truncating the journal", path: url.path, errno: errno)
        }
    }
}

/// Replaces a file whole: the bytes go to a temporary file beside it (fsynced), which is then renamed over it.
/// The temporary file has a recognizable name, so a later run under the lock removes one a kill left behind.
public enum AtomicFile {
    static let suffix = ".forbc-tmp"

    public static func isTemporary(_ name: String) -> Bool { name.hasPrefix(".") && name.hasSuffix(suffix) }

    /// `mode`, when given, is set whatever the umask (for a file another user must read, as node_exporter does).
    public static func write(_ data: Data, to url: URL, mode: mode_t? = nil) throws {
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent)\(suffix)")
        let fd = open(temporary.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ForbcError.sysfs("creating", path: temporary.path, errno: errno) }
        var failure: Int32 = 0
        if let mode, fchmod(fd, mode) != 0 { failure = errno }
        data.withUnsafeBytes { buffer in
            var offset = 0
            while failure == 0 && offset < buffer.count {
                let count = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if count < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                offset += count
            }
        }
        if failure == 0 && fsync(fd) != 0 { failure = errno }
        close(fd)
        if failure == 0 && rename(temporary.path, url.path) != 0 { failure = errno }
        if failure != 0 {
            unlink(temporary.path)
            throw ForbcError.sysfs("writing", path: url.path, errno: failure)
        }
    }
}
