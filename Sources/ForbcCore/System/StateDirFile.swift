import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The files forbc keeps in its state dir (lock, state.json, journals, temporaries, simulated host files, progress
/// files) are opened with O_NOFOLLOW: a link planted there would otherwise make forbc write through it, or
/// truncate what it names, outside the state dir. The state dir itself may be a link (people move it).
public enum StateDirFile {
    /// open(2) with O_NOFOLLOW and O_CLOEXEC added; a link at `path` is a located error, as is any other failure
    /// (`operation` says what forbc was doing: "opening the journal").
    public static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o644, doing operation: String) throws
        -> Int32
    {
        while true {
            let fd = Glibc.open(path, flags | O_NOFOLLOW | O_CLOEXEC, mode)
            if fd >= 0 { return fd }
            let code = errno
            if code == EINTR { continue }
            if code == ELOOP && isLink(path) { throw linkError(path) }
            throw ForbcError.sysfs(operation, path: path, errno: code)
        }
    }

    /// Whether `path` itself (not what it names) is a symbolic link.
    public static func isLink(_ path: String) -> Bool {
        var status = stat()
        return lstat(path, &status) == 0 && status.st_mode & S_IFMT == S_IFLNK
    }

    public static func linkError(_ path: String) -> ForbcError {
        ForbcError(
            .system,
            "\(path) is a symbolic link; forbc does not follow links in its state dir: remove the link (what it "
                + "names is untouched)", path: path, errno: ELOOP)
    }

    /// Throws unless `fd` is a regular file (a FIFO or a device in the state dir is refused, not read or written).
    static func requireRegular(_ fd: Int32, _ path: String) throws {
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw ForbcError.sysfs("examining", path: path, errno: errno) }
        guard status.st_mode & S_IFMT == S_IFREG else {
            throw ForbcError(
                .system,
                "\(path) is not a regular file; forbc keeps only regular files in its state dir: move it aside",
                path: path)
        }
    }

    /// The whole file, or nil when it does not exist: read by `BoundedFile` without following a link, without
    /// blocking (a FIFO or a device is refused rather than waited on) and to `BoundedFile.stateLimit` at most;
    /// `what` names the file in an error ("the state snapshot").
    public static func read(_ url: URL, what: String = "a file of forbc's state dir") throws -> Data? {
        try BoundedFile.readIfPresent(url.path, limit: BoundedFile.stateLimit, what: what, noFollow: true)
    }

    /// Makes the folder `path` unless it is there; a link (or a file) in its place is a located error.
    public static func makeFolder(_ path: String) throws {
        if mkdir(path, 0o755) != 0 && errno != EEXIST { throw ForbcError.sysfs("creating", path: path, errno: errno) }
        var status = stat()
        guard lstat(path, &status) == 0 else { throw ForbcError.sysfs("examining", path: path, errno: errno) }
        if status.st_mode & S_IFMT == S_IFLNK { throw linkError(path) }
        guard status.st_mode & S_IFMT == S_IFDIR else {
            throw ForbcError(.system, "\(path) is not a folder; move it aside", path: path, errno: ENOTDIR)
        }
    }

    /// Appends `data` to a file of the state dir (a log), creating it; a link or a FIFO there is refused.
    public static func append(_ data: Data, to url: URL) throws {
        let fd = try open(url.path, O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK, doing: "appending to")
        defer { close(fd) }
        try requireRegular(fd, url.path)
        let failure = data.withUnsafeBytes { writeAll(fd, $0) }
        guard failure == 0 else { throw ForbcError.sysfs("appending to", path: url.path, errno: failure) }
    }

    /// Writes all of `bytes` to `fd` (retrying short writes and EINTR); returns 0 or the errno that stopped it.
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Int32 {
        var offset = 0
        while offset < bytes.count {
            let count = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if count < 0 {
                if errno == EINTR { continue }
                return errno
            }
            if count == 0 { return EIO }
            offset += count
        }
        return 0
    }
}
