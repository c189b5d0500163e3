import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// An append-only file of JSON lines. Each append is one write(2) with O_APPEND, so a killed forbc (or a full
/// disk) leaves at most a torn last line: reading skips it, and the next append first cuts it off, so the new
/// entries start on a line of their own (the torn entry never completed). Appends are not fsynced: the threat is
/// a killed process (the page cache survives it), not a lost machine; snapshots are. The journal lives in the
/// state dir: it is opened without following a link (see `StateDirFile`).
public struct JournalFile: Sendable {
    public let url: URL

    public init(url: URL) { self.url = url }

    /// Appends `entries`, one JSON line each, in one write, after cutting a torn last line off; returns how many
    /// bytes the journal grew by (the bytes appended less those cut).
    @discardableResult
    public func append<T: Encodable>(_ entries: [T]) throws -> Int {
        let (appended, cut) = try appendCutting(entries)
        return appended - cut
    }

    /// `append`, returning the bytes appended and the bytes of a torn last line cut off before them.
    public func appendCutting<T: Encodable>(_ entries: [T]) throws -> (appended: Int, cut: Int) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var bytes: [UInt8] = []
        for entry in entries {
            bytes += Array(try encoder.encode(entry))
            bytes.append(0x0A)
        }
        let fd = try StateDirFile.open(url.path, O_RDWR | O_APPEND | O_CREAT, doing: "opening the journal")
        defer { close(fd) }
        try StateDirFile.requireRegular(fd, url.path)
        // Appenders hold the host lock; this also keeps a tail being cut from meeting another append.
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else { throw ForbcError.sysfs("locking the journal", path: url.path, errno: errno) }
        }
        let cut = try cutTornTail(fd)
        let failure = bytes.withUnsafeBytes { StateDirFile.writeAll(fd, $0) }
        guard failure == 0 else { throw ForbcError.sysfs("appending to the journal", path: url.path, errno: failure) }
        return (bytes.count, cut)
    }

    /// Truncates the file after its last newline when it does not end with one (a torn entry); returns the bytes cut.
    func cutTornTail(_ fd: Int32) throws -> Int {
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw ForbcError.sysfs("examining", path: url.path, errno: errno) }
        let size = Int(status.st_size)
        // The usual case, one byte read at most: empty, or ending with a newline.
        guard size > 0 else { return 0 }
        var last: UInt8 = 0
        guard pread(fd, &last, 1, off_t(size - 1)) == 1 else {
            throw ForbcError.sysfs("reading the journal", path: url.path, errno: errno)
        }
        if last == 0x0A { return 0 }
        var end = size
        var chunk = [UInt8](repeating: 0, count: 4096)
        while end > 0 {
            let start = max(0, end - chunk.count)
            let count = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, end - start, off_t(start)) }
            guard count == end - start else {
                throw ForbcError.sysfs("reading the journal", path: url.path, errno: count < 0 ? errno : EIO)
            }
            if let newline = chunk[0..<count].lastIndex(of: 0x0A) {
                end = start + newline + 1
                break
            }
            end = start
        }
        guard end < size else { return 0 }
        guard ftruncate(fd, off_t(end)) == 0 else {
            throw ForbcError.sysfs("cutting the torn last line of the journal", path: url.path, errno: errno)
        }
        return size - end
    }

    /// The journal's size in bytes (0 when it does not exist; a link is not followed).
    public var size: Int {
        ((try? FileManager.default.attributesOfItem(atPath: url.path))?[.size] as? Int) ?? 0
    }

    /// Every entry in order. An entry is complete once its newline is written: a last line without one (a kill
    /// or a full disk during its write) is skipped, as `append` cuts it; blank lines are skipped; any other bad
    /// line is an error naming its line (counted from 1, blank lines included).
    public func entries<T: Decodable>(_ type: T.Type) throws -> [T] {
        guard let data = try StateDirFile.read(url, what: "a journal"), !data.isEmpty else { return [] }
        // The piece after the last newline (empty when the file ends with one, else the torn line) is dropped.
        let lines = data.split(separator: 0x0A, omittingEmptySubsequences: false).dropLast()
        var entries: [T] = []
        let decoder = JSONDecoder()
        for (index, line) in lines.enumerated() where !line.isEmpty {
            do {
                entries.append(try decoder.decode(T.self, from: Data(line)))
            } catch {
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
        let fd: Int32
        do {
            fd = try StateDirFile.open(url.path, O_WRONLY | O_NONBLOCK, doing: "truncating the journal")
        } catch let error as ForbcError where error.errno == ENOENT {
            return
        }
        defer { close(fd) }
        try StateDirFile.requireRegular(fd, url.path)
        guard ftruncate(fd, 0) == 0 else {
            throw ForbcError.sysfs("truncating the journal", path: url.path, errno: errno)
        }
    }
}

/// Replaces a file whole: the bytes go to a temporary file beside it (fsynced), which is then renamed over it.
/// The temporary file has a recognizable name, so a later run under the lock removes one a kill left behind.
public enum AtomicFile {
    static let suffix = ".forbc-tmp"

    public static func isTemporary(_ name: String) -> Bool { name.hasPrefix(".") && name.hasSuffix(suffix) }

    /// A temporary file whose writer is gone (killed before its rename): its name holds the writer's pid
    /// (".NAME.PID-RANDOM.forbc-tmp"), and one a live process is still writing is not stale.
    public static func isStaleTemporary(_ name: String) -> Bool {
        guard isTemporary(name) else { return false }
        let stem = name.dropLast(suffix.count)
        guard let dot = stem.lastIndex(of: "."), let dash = stem[dot...].firstIndex(of: "-"),
            let pid = pid_t(stem[stem.index(after: dot)..<dash]), pid > 0
        else { return true }
        return kill(pid, 0) != 0 && errno == ESRCH
    }

    /// Replaces a file of the state dir. A link (or anything but a regular file) in its place is a located error,
    /// not replaced and not followed. `mode`, when given, is set whatever the umask (for a file another user must
    /// read, as node_exporter does).
    public static func write(_ data: Data, to url: URL, mode: mode_t? = nil) throws {
        var status = stat()
        if lstat(url.path, &status) == 0 {
            if status.st_mode & S_IFMT == S_IFLNK { throw StateDirFile.linkError(url.path) }
            guard status.st_mode & S_IFMT == S_IFREG else {
                throw ForbcError(
                    .system,
                    "\(url.path) is not a regular file; forbc keeps only regular files in its state dir: move it aside",
                    path: url.path)
            }
        }
        try replace(url, with: data, mode: mode)
    }

    /// Writes `data` through a temporary file beside `url` renamed over it.
    static func replace(_ url: URL, with data: Data, mode: mode_t?) throws {
        let temporary = try written(data, beside: url, mode: mode)
        guard rename(temporary.path, url.path) == 0 else {
            let failure = errno
            unlink(temporary.path)
            throw ForbcError.sysfs("writing", path: url.path, errno: failure)
        }
    }

    /// Makes the state dir's file `url` with `data` unless it exists (whoever made it first wins, whole: the file
    /// appears by link(2) of a complete temporary file); a command that does not hold the lock writes so.
    public static func createIfAbsent(_ data: Data, at url: URL) throws {
        let temporary = try written(data, beside: url, mode: nil)
        defer { unlink(temporary.path) }
        if link(temporary.path, url.path) != 0 && errno != EEXIST {
            throw ForbcError.sysfs("writing", path: url.path, errno: errno)
        }
        var status = stat()
        if lstat(url.path, &status) == 0 && status.st_mode & S_IFMT == S_IFLNK {
            throw StateDirFile.linkError(url.path)
        }
    }

    /// A temporary file beside `url` holding `data` (fsynced). It has a name of its own, with this process's pid
    /// (two commands may write the same file at once, and a locked command removes only those whose writer is
    /// gone) and is made anew (O_EXCL, O_NOFOLLOW), so a link or a file planted beside it is never written through.
    static func written(_ data: Data, beside url: URL, mode: mode_t?) throws -> URL {
        var temporary: URL
        var fd: Int32 = -1
        repeat {
            let unique = "\(getpid())-\(String(UInt64.random(in: 0...UInt64.max), radix: 36))"
            temporary = url.deletingLastPathComponent().appendingPathComponent(
                ".\(url.lastPathComponent).\(unique)\(suffix)")
            do {
                fd = try StateDirFile.open(temporary.path, O_WRONLY | O_CREAT | O_EXCL, doing: "creating")
            } catch let error as ForbcError where error.errno == EEXIST {
                continue
            }
        } while fd < 0
        var failure: Int32 = 0
        if let mode, fchmod(fd, mode) != 0 { failure = errno }
        if failure == 0 { failure = data.withUnsafeBytes { StateDirFile.writeAll(fd, $0) } }
        if failure == 0 && fsync(fd) != 0 { failure = errno }
        close(fd)
        if failure != 0 {
            unlink(temporary.path)
            throw ForbcError.sysfs("writing", path: url.path, errno: failure)
        }
        return temporary
    }
}
