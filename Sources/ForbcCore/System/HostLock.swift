import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// One apply at a time per host: an exclusive flock(2) on a file in the state dir, held until released
/// (or until the process dies, when the kernel drops it).
public final class HostLock: @unchecked Sendable {
    private var fd: Int32
    public let path: String

    private init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    /// Takes the lock without waiting; throws `.locked` naming the holder when another forbc has it.
    public static func acquire(at url: URL) throws -> HostLock {
        let path = url.path
        // Not through a link (one planted here would have forbc truncate what it names), and a regular file only.
        let fd = try StateDirFile.open(path, O_RDWR | O_CREAT | O_NONBLOCK, doing: "opening the lock")
        do { try StateDirFile.requireRegular(fd, path) } catch {
            close(fd)
            throw error
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            var buffer = [UInt8](repeating: 0, count: 64)
            let count = pread(fd, &buffer, 63, 0)
            close(fd)
            let holder =
                count > 0
                ? String(decoding: buffer[0..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                : "?"
            if code == EWOULDBLOCK {
                throw ForbcError(
                    .locked,
                    "another forbc (pid \(holder)) is applying to this host (lock \(path)); wait for it to finish",
                    path: path)
            }
            throw ForbcError.sysfs("locking", path: path, errno: code)
        }
        let pid = "\(getpid())\n"
        _ = ftruncate(fd, 0)
        _ = pid.withCString { pwrite(fd, $0, strlen($0), 0) }
        return HostLock(fd: fd, path: path)
    }

    /// The machine's lock (`apply.lock` in `folder`), taken by root only: another user cannot change this machine's
    /// sysfs anyway, and must not create the file root takes. The folder must be root's own, not a link, and
    /// writable by root alone (in a world-writable one another user could create or hold the file: root locked out).
    public static func acquireMachine(in folder: String) throws -> HostLock? {
        guard geteuid() == 0 else { return nil }
        if mkdir(folder, 0o755) != 0 && errno != EEXIST {
            throw ForbcError.sysfs("creating the lock folder", path: folder, errno: errno)
        }
        var status = stat()
        guard lstat(folder, &status) == 0 else { throw ForbcError.sysfs("examining", path: folder, errno: errno) }
        guard status.st_mode & S_IFMT == S_IFDIR, status.st_uid == 0, status.st_mode & 0o022 == 0 else {
            throw ForbcError(
                .system,
                "\(folder) must be a folder only root may write (it holds the machine's apply lock); remove what "
                    + "is there", path: folder)
        }
        return try acquire(at: URL(fileURLWithPath: folder + "/apply.lock"))
    }

    public func release() {
        guard fd >= 0 else { return }
        _ = ftruncate(fd, 0)
        flock(fd, LOCK_UN)
        close(fd)
        fd = -1
    }

    deinit { release() }
}
