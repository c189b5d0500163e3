import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Folders forbc makes for itself (the state dir), with mkdir(2) so that a failure is the kernel's errno and the
/// folder it met, not Foundation's sentence ("The volume is read only.").
public enum Directories {
    /// A folder that could not be made: which one, why in words, and the errno when a call failed.
    public struct Failure: Error, Equatable {
        public let path: String
        public let reason: String
        public let errno: Int32?
    }

    /// Makes `path` and the folders above it that are missing, as `mkdir -p` does (mode 0777 less the umask, as
    /// Foundation's did); a path that exists and is not a directory is a failure naming what it is.
    public static func make(_ path: String) throws {
        var info = stat()
        if stat(path, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFDIR else {
                throw Failure(path: path, reason: "it is \(BoundedFile.kind(info.st_mode))", errno: ENOTDIR)
            }
            return
        }
        let parent = (path as NSString).deletingLastPathComponent
        if !parent.isEmpty && parent != path && parent != "/" { try make(parent) }
        guard mkdir(path, 0o777) != 0 else { return }
        let code = errno
        // Made by another process in between: fine when it is a directory.
        if code == EEXIST && stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR { return }
        throw Failure(path: path, reason: Errno.describe(code), errno: code)
    }
}
