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
