import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The one way forbc reads a whole file that a user named (a manifest, a campaign and its topologies, a workload
/// profile, a bench import) or that lies in the state dir: open(2) with O_NONBLOCK (a FIFO without a writer does not
/// stop the open), one fstat(2), and reads that stop past a limit. A FIFO, a device, a socket or a directory is a
/// located error naming what it is, and so is a file over the limit; nothing hangs and nothing reads gigabytes.
public enum BoundedFile {
    /// Whether a pipe or a character device (a terminal, `/dev/stdin`) is read up to the limit, as a manifest named
    /// on the command line is, or refused like every other file that is not a regular file.
    public enum Streams: Sendable {
        case refused
        case read
    }

    /// Why a file was not read.
    public enum Problem: Error, Equatable, Sendable {
        /// open(2) or read(2) failed with this errno.
        case unreadable(Int32)
        /// The file is not a regular file (and not a stream that was allowed): what it is, "a FIFO".
        case notRegular(String)
        /// A regular file of this many bytes, over the limit.
        case tooLarge(Int)
        /// A stream that gave more bytes than the limit.
        case streamTooLong
        /// A symbolic link where forbc does not follow one.
        case link
    }

    /// Files in the state dir (the snapshot, the journal, the sync record, a campaign's progress, a simulated host's
    /// model): far more than thousands of partitions' records take.
    public static let stateLimit = 64 << 20

    /// The whole file at `path`, or a located error: `what` names the file in it ("a manifest", "the state
    /// snapshot"), `limit` is the most bytes it may hold.
    public static func read(_ path: String, limit: Int, what: String, streams: Streams = .refused) throws -> Data {
        do {
            return try contents(path, limit: limit, streams: streams, noFollow: false)
        } catch let problem as Problem {
            throw failure(problem, path: path, limit: limit, what: what)
        }
    }

    /// `read`, with a file that does not exist answered nil: a record not written yet (ENOENT, or ENOTDIR: a folder
    /// on its path is a file, which whoever makes the folder reports).
    /// With `noFollow`, a symbolic link at `path` is refused (`StateDirFile`: forbc's own files).
    public static func readIfPresent(_ path: String, limit: Int, what: String, noFollow: Bool = false) throws -> Data? {
        do {
            return try contents(path, limit: limit, streams: .refused, noFollow: noFollow)
        } catch Problem.unreadable(Errno.ENOENT), Problem.unreadable(Errno.ENOTDIR) {
            return nil
        } catch let problem as Problem {
            throw failure(problem, path: path, limit: limit, what: what)
        }
    }

    /// forbc's error for `problem` with the file at `path`.
    public static func failure(_ problem: Problem, path: String, limit: Int, what: String) -> ForbcError {
        switch problem {
        case .unreadable(let code):
            return ForbcError.sysfs("reading", path: path, errno: code)
        case .notRegular(let kind):
            return ForbcError(
                .invalidInput, "refusing '\(path)': it is \(kind); \(what) is read from a regular file only",
                path: path)
        case .tooLarge(let size):
            return ForbcError(
                .invalidInput,
                "refusing '\(path)': it is \(size) bytes; \(what) may hold at most \(describe(limit))", path: path)
        case .link:
            return StateDirFile.linkError(path)
        case .streamTooLong:
            return ForbcError(
                .invalidInput,
                "refusing '\(path)': it gave over \(describe(limit)); \(what) may hold at most \(describe(limit))",
                path: path)
        }
    }

    /// The bytes of `path`, or the problem that stopped the read.
    public static func contents(_ path: String, limit: Int, streams: Streams, noFollow: Bool) throws -> Data {
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | (noFollow ? O_NOFOLLOW : 0))
        guard fd >= 0 else {
            let code = errno
            if noFollow && code == ELOOP && StateDirFile.isLink(path) { throw Problem.link }
            // A socket cannot be opened (ENXIO): say what it is rather than the errno's words.
            var info = stat()
            if code == ENXIO, stat(path, &info) == 0, info.st_mode & S_IFMT != S_IFREG {
                throw Problem.notRegular(kind(info.st_mode))
            }
            throw Problem.unreadable(code)
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw Problem.unreadable(errno) }
        let type = info.st_mode & S_IFMT
        if type == S_IFREG {
            guard Int(info.st_size) <= limit else { throw Problem.tooLarge(Int(info.st_size)) }
        } else {
            guard streams == .read, type == S_IFIFO || type == S_IFCHR else {
                throw Problem.notRegular(kind(info.st_mode))
            }
            // A stream is read as a stream: blocking reads, to its end or the limit.
            let flags = fcntl(fd, F_GETFL)
            guard flags >= 0, fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == 0 else { throw Problem.unreadable(errno) }
        }
        return try readAll(fd, limit: limit, expected: type == S_IFREG ? Int(info.st_size) : 0)
    }

    /// Reads `fd` to its end; more than `limit` bytes is an error (a regular file that grew, or a stream).
    static func readAll(_ fd: Int32, limit: Int, expected: Int) throws -> Data {
        var data = Data(capacity: min(expected, limit) + 1)
        let size = 1 << 16
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 8)
        defer { buffer.deallocate() }
        while true {
            let count = Glibc.read(fd, buffer.baseAddress, min(size, limit + 1 - data.count))
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw Problem.unreadable(errno) }
            if count == 0 { return data }
            data.append(buffer.baseAddress!.assumingMemoryBound(to: UInt8.self), count: count)
            if data.count > limit { throw expected > 0 ? Problem.tooLarge(data.count) : Problem.streamTooLong }
        }
    }

    /// What a file of mode `mode` is, in words: "a FIFO", "a character device".
    public static func kind(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFREG: "a regular file"
        case S_IFDIR: "a directory"
        case S_IFIFO: "a FIFO"
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        case S_IFSOCK: "a socket"
        case S_IFLNK: "a symbolic link"
        default: "not a regular file"
        }
    }

    /// A limit in words: "1 MiB", "64 MiB", else its bytes.
    public static func describe(_ limit: Int) -> String {
        limit >= 1 << 20 && limit % (1 << 20) == 0 ? "\(limit >> 20) MiB" : "\(limit) bytes"
    }
}
