import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

extension AtomicFile {
    /// Writes an output file the user named (`--metrics`, `--out`, a report) without replacing anything the user
    /// had by a different kind of file:
    /// - a path that does not exist, or a regular file, is replaced atomically (`write`'s temporary file);
    /// - a link to a regular file is replaced atomically at its resolved target, and the link is kept;
    /// - a character device, FIFO or socket (or a link to one: /dev/stdout, /dev/null) is written through: opened
    ///   without O_CREAT or O_TRUNC and without blocking, so a FIFO nobody reads is an error (ENXIO), not a hang;
    /// - a directory, a block device or a link to nothing is a located error.
    public static func writeOutput(_ data: Data, to url: URL, mode: mode_t? = nil) throws {
        let path = url.path
        if let fd = openDescriptor(path) {
            // /dev/stdout, /dev/fd/N, /proc/self/fd/N (or a link to one): forbc's own descriptor, written as it is
            // (the shell's `>>` keeps its earlier lines; a redirected file is not replaced by a new one).
            let failure = data.withUnsafeBytes { StateDirFile.writeAll(fd, $0) }
            guard failure == 0 else { throw ForbcError.sysfs("writing", path: path, errno: failure) }
            return
        }
        var link = stat()
        guard lstat(path, &link) == 0 else {
            guard errno == ENOENT else { throw ForbcError.sysfs("examining", path: path, errno: errno) }
            return try replace(url, with: data, mode: mode)
        }
        var status = link
        if link.st_mode & S_IFMT == S_IFLNK && stat(path, &status) != 0 {
            throw ForbcError.sysfs("following the link", path: path, errno: errno)
        }
        switch status.st_mode & S_IFMT {
        case S_IFREG:
            guard link.st_mode & S_IFMT == S_IFLNK else { return try replace(url, with: data, mode: mode) }
            guard let resolved = realpath(path, nil) else {
                throw ForbcError.sysfs("following the link", path: path, errno: errno)
            }
            defer { free(resolved) }
            try replace(URL(fileURLWithPath: String(cString: resolved)), with: data, mode: mode)
        case S_IFCHR, S_IFIFO, S_IFSOCK:
            try writeThrough(data, to: path)
        case S_IFDIR:
            throw ForbcError(.invalidInput, "\(path) is a directory; name a file to write", path: path, errno: EISDIR)
        default:
            throw ForbcError(
                .invalidInput,
                "\(path) is a block device; forbc writes output to a file, a character device or a FIFO", path: path)
        }
    }

    /// The descriptor `path` names when it, or a link it leads through (8 at most), is /dev/stdout, /dev/stderr,
    /// /dev/fd/N or /proc/self/fd/N of an open descriptor of this process; nil otherwise.
    static func openDescriptor(_ path: String) -> Int32? {
        var current = path
        for _ in 0..<8 {
            if let fd = descriptor(named: current) { return fcntl(fd, F_GETFD) >= 0 ? fd : nil }
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let count = readlink(current, &buffer, buffer.count - 1)
            guard count > 0 else { return nil }
            let target = String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            current =
                target.hasPrefix("/")
                ? target : URL(fileURLWithPath: current).deletingLastPathComponent().appendingPathComponent(target).path
        }
        return nil
    }

    static func descriptor(named path: String) -> Int32? {
        switch path {
        case "/dev/stdout": return 1
        case "/dev/stderr": return 2
        default:
            for prefix in ["/dev/fd/", "/proc/self/fd/", "/proc/\(getpid())/fd/"] where path.hasPrefix(prefix) {
                return Int32(path.dropFirst(prefix.count))
            }
            return nil
        }
    }

    /// Writes into an existing device or FIFO as it is (no creation, no truncation, nothing replaced).
    static func writeThrough(_ data: Data, to path: String) throws {
        var fd: Int32
        repeat { fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY) } while fd < 0 && errno == EINTR
        guard fd >= 0 else {
            let code = errno
            let remedy = code == ENXIO ? "nothing is reading it (a FIFO needs a reader first)" : nil
            throw ForbcError.sysfs("opening", path: path, errno: code, remedy: remedy)
        }
        defer { close(fd) }
        let flags = fcntl(fd, F_GETFL)
        guard flags >= 0, fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == 0 else {
            throw ForbcError.sysfs("opening", path: path, errno: errno)
        }
        let failure = data.withUnsafeBytes { StateDirFile.writeAll(fd, $0) }
        guard failure == 0 else { throw ForbcError.sysfs("writing", path: path, errno: failure) }
    }
}
