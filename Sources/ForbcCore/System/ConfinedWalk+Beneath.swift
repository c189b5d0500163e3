import CLinux
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The kernel's own confined resolution, tried before the walk: openat2(2) from the walk's directory with
/// RESOLVE_BENEATH (any '..' or absolute link that would leave the directory fails with EXDEV, renames racing the
/// lookup with EAGAIN) and RESOLVE_NO_MAGICLINKS. It only ever answers with a descriptor of something it reached
/// inside the directory; whenever it does not (an absolute link, which the walk takes inside the directory, a link
/// climbing out, a missing file, any error), the walk resolves the path itself, so every refusal and every error
/// is the walk's own. One openat2 replaces an open and an fstat per component.
extension ConfinedWalk {
    /// Whether openat2 works here (Linux 5.6+, and no seccomp filter refusing it).
    static let beneathAvailable: Bool = {
        let fd = forbc_openat2(AT_FDCWD, ".", ConfinedWalk.openPath | O_CLOEXEC, 0)
        guard fd >= 0 else { return false }
        _ = Glibc.close(fd)
        return true
    }()

    /// `path`'s components below `base` (a plain absolute path: no NUL, no empty, '.' or '..' component, as
    /// `SysPath.components` requires, checked on its bytes); nil when the walk must decide, and say why.
    func relative(_ path: String) -> [Substring]? {
        var parts: [Substring] = []
        var bytes = path.utf8[...]
        guard bytes.popFirst() == UInt8(ascii: "/") else { return nil }
        while true {
            let end = bytes.firstIndex(of: UInt8(ascii: "/")) ?? bytes.endIndex
            let part = bytes[..<end]
            if part.isEmpty || part.contains(0) || part.elementsEqual(".".utf8) || part.elementsEqual("..".utf8) {
                return nil
            }
            parts.append(Substring(part))
            guard end < bytes.endIndex else { break }
            bytes = bytes[bytes.index(after: end)...]
        }
        guard parts.count > base.count, parts.prefix(base.count).elementsEqual(base, by: { $0 == $1 }) else {
            return nil
        }
        return Array(parts.dropFirst(base.count))
    }

    /// `relative` (components below the directory) opened with `flags` by openat2 beneath the directory, following
    /// a last link; nil when the kernel did not open it (the walk then decides).
    func openBeneath(_ relative: some Collection<Substring>, _ flags: Int32) -> Int32? {
        guard Self.beneathAvailable else { return nil }
        let top: Int32
        if let opened {
            guard let fd = opened.descriptor() else { return nil }
            top = fd
        } else {
            top = open(directory, ConfinedWalk.openPath | O_DIRECTORY | O_CLOEXEC)
            guard top >= 0 else { return nil }
        }
        defer { if opened == nil { _ = Glibc.close(top) } }
        let fd = forbc_openat2(
            top, relative.joined(separator: "/"), flags | O_CLOEXEC,
            forbc_resolve_beneath | forbc_resolve_no_magiclinks)
        return fd >= 0 ? fd : nil
    }

    /// Opens `path` with `flags` beneath the directory (a last link followed); nil when the walk must.
    func openBeneath(_ path: String, flags: Int32) -> Int32? {
        relative(path).flatMap { openBeneath($0, flags) }
    }

    /// Runs `body` on the directory holding `path`'s last component, opened beneath the directory, and that
    /// component's name; nil (nothing run) when the kernel did not open the directory, and the walk must. A path of
    /// one component is left to the walk, whose answer for a missing top component is that the root is unusable.
    func beneath<T>(_ path: String, _ body: (Int32, String) throws -> T) rethrows -> T? {
        guard let parts = relative(path), parts.count > 1, let name = parts.last,
            let dir = openBeneath(parts.dropLast(), ConfinedWalk.openPath | O_DIRECTORY)
        else { return nil }
        defer { _ = Glibc.close(dir) }
        return try body(dir, String(name))
    }
}

/// A directory opened once (O_PATH) for the life of a channel, so that each read beneath it is one openat2 rather
/// than an open of the directory, the openat2 and a close. A failed open is tried again next time (the walk, which
/// opens the directory by its path each time, says why it cannot be opened).
final class OpenedDirectory: @unchecked Sendable {
    let path: String
    private let lock = NSLock()
    private var fd: Int32 = -1

    init(path: String) { self.path = path }

    deinit { if fd >= 0 { _ = Glibc.close(fd) } }

    /// The open directory, or nil when it cannot be opened.
    func descriptor() -> Int32? {
        lock.withLock {
            if fd < 0 { fd = open(path, ConfinedWalk.openPath | O_DIRECTORY | O_CLOEXEC) }
            return fd >= 0 ? fd : nil
        }
    }
}
