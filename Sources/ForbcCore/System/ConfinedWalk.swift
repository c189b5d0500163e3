import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Kernel paths resolved inside a directory on disk one component at a time, as openat2's RESOLVE_IN_ROOT does,
/// except that a link climbing above the directory is refused rather than clamped. Each component is opened with
/// O_PATH|O_NOFOLLOW from the directory before it; a link is read and its target walked in its place (an absolute
/// target from the top, '..' back to the directory before), so nothing the walk opens lies outside.
struct ConfinedWalk: Sendable {
    /// The most links one resolution follows (the kernel's own limit), so that a loop ends in an error.
    static let maxLinks = 40
    /// Linux's O_PATH (its generic value), which Glibc declares only under _GNU_SOURCE.
    static let openPath: Int32 = 0o10000000

    /// The directory on disk that the walk stays in.
    let directory: String
    /// The kernel path components the directory stands for: [] for a '--root' tree, ["sys"] for sysfs alone.
    let base: [String]
    /// How messages name what confines the walk: "the root" or "'/sys'".
    let scope: String
    /// The directory kept open by the channel, for the kernel's resolution beneath it (ConfinedWalk+Beneath).
    var opened: OpenedDirectory? = nil

    /// A failed call of the walk or of its caller: the kernel's errno and, when the component came from a link's
    /// target, a note naming that link.
    struct CallFailed: Error {
        let errno: Int32
        var note: String?
    }

    /// A link met on the way: its kernel path and its target as read.
    struct Link {
        let path: String
        let target: String
    }

    /// A component still to resolve, with the link whose target it comes from (nil for the requested path's own).
    struct Pending {
        let name: String
        let link: Link?
    }

    /// Resolves `path` to the open directory holding its last component and that component's name (or "." when
    /// the path ends in a directory reached by '..'), then runs `body` on them; the descriptors close afterwards.
    /// With `followLast`, a last component that is a link is followed too; otherwise it is left as it is.
    func resolve<T>(_ path: String, followLast: Bool, _ body: (Int32, String) throws -> T) throws -> T {
        let parts = try SysPath.components(path).map(String.init)
        guard parts.starts(with: base) else {
            throw ForbcError(
                .invalidInput, "refusing '\(path)': it is not under '/\(base.joined(separator: "/"))'", path: path)
        }
        var cursor = try Cursor(walk: self, path: path)
        defer { cursor.close() }
        cursor.pending = parts.dropFirst(base.count).reversed().map { Pending(name: $0, link: nil) }
        let (name, link) = try cursor.run(followLast: followLast)
        do {
            return try body(cursor.fds[cursor.fds.count - 1], name)
        } catch var failure as CallFailed where failure.note == nil {
            failure.note = link.map(note)
            throw failure
        }
    }

    /// "the link 'L' points to 'T'": the remedy part of an error met inside a link's target.
    func note(_ link: Link) -> String {
        let absolute = link.target.hasPrefix("/") ? " (an absolute target is taken inside \(scope))" : ""
        return "the link '\(link.path)' points to '\(link.target)'\(absolute)"
    }

    /// A link whose target would leave the directory.
    func outside(_ path: String, _ link: Link?) -> ForbcError {
        guard let link else {
            return ForbcError(.invalidInput, "refusing '\(path)': it leads outside \(scope)", path: path)
        }
        return ForbcError(
            .invalidInput,
            "refusing '\(path)': the link '\(link.path)' points outside \(scope) ('\(link.target)'); links must stay "
                + "inside \(scope)",
            path: path)
    }

    /// More links than `maxLinks` on the way to `path`: a loop, most likely.
    func loop(_ path: String, _ link: Link) -> ForbcError {
        ForbcError(
            .system,
            "refusing '\(path)': more than \(Self.maxLinks) links to follow, the last '\(link.path)' -> "
                + "'\(link.target)'; the links under \(scope) loop",
            path: path, errno: Errno.ELOOP)
    }

    /// The directory itself cannot be opened (or lacks the path's first component): an error, never an absence, so
    /// it carries no errno that callers would take for a missing attribute.
    func unusable(_ detail: String) -> ForbcError {
        let what = base.isEmpty ? "the root '\(directory)'" : "'\(directory)'"
        let remedy =
            base.isEmpty ? "'--root' names a directory holding a copy of sysfs under 'sys'" : "is sysfs mounted?"
        return ForbcError(.system, "\(what) \(detail); \(remedy)", path: directory)
    }
}

extension ConfinedWalk {
    /// The walk in progress: the open directories from the top down, their names, what is left to resolve.
    fileprivate struct Cursor {
        let walk: ConfinedWalk
        /// The requested kernel path, for messages.
        let path: String
        var fds: [Int32]
        var names: [String] = []
        var pending: [Pending] = []
        var links = 0

        init(walk: ConfinedWalk, path: String) throws {
            let fd = open(walk.directory, ConfinedWalk.openPath | O_DIRECTORY | O_CLOEXEC)
            guard fd >= 0 else { throw walk.unusable("cannot be opened: \(Errno.describe(errno))") }
            self.walk = walk
            self.path = path
            fds = [fd]
        }

        func close() { for fd in fds { _ = Glibc.close(fd) } }

        /// The kernel path of `name` in the current directory.
        func kernelPath(_ name: String) -> String { "/" + (walk.base + names + [name]).joined(separator: "/") }

        /// Walks what is pending; returns the last component's name in `fds.last` and the link it came from.
        mutating func run(followLast: Bool) throws -> (String, Link?) {
            while let next = pending.popLast() {
                switch next.name {
                case "", ".":
                    continue
                case "..":
                    guard fds.count > 1 else { throw walk.outside(path, next.link) }
                    _ = Glibc.close(fds.removeLast())
                    names.removeLast()
                    continue
                default:
                    if let last = try step(next, followLast: followLast) { return (last, next.link) }
                }
            }
            return (".", nil)
        }

        /// Opens one component without following it: a link is replaced by its target's components; a directory
        /// with more to come becomes the current one; the last component's name is returned.
        mutating func step(_ next: Pending, followLast: Bool) throws -> String? {
            let fd = openat(fds[fds.count - 1], next.name, ConfinedWalk.openPath | O_NOFOLLOW | O_CLOEXEC)
            guard fd >= 0 else { throw failure(errno, next) }
            var info = stat()
            guard fstat(fd, &info) == 0 else {
                let code = errno
                _ = Glibc.close(fd)
                throw failure(code, next)
            }
            let kind = info.st_mode & 0o170000
            if kind == 0o120000 && (!pending.isEmpty || followLast) {
                defer { _ = Glibc.close(fd) }
                try follow(fd, name: next.name, from: next)
                return nil
            }
            if pending.isEmpty {
                _ = Glibc.close(fd)
                return next.name
            }
            guard kind == 0o040000 else {
                _ = Glibc.close(fd)
                throw failure(ENOTDIR, next)
            }
            fds.append(fd)
            names.append(next.name)
            return nil
        }

        /// Reads the link open at `fd` and puts its target's components in its place.
        mutating func follow(_ fd: Int32, name: String, from next: Pending) throws {
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let count = readlinkat(fd, "", &buffer, buffer.count - 1)
            guard count >= 0 else { throw failure(errno, next) }
            let target = String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let link = Link(path: kernelPath(name), target: target)
            links += 1
            guard links <= ConfinedWalk.maxLinks else { throw walk.loop(path, link) }
            var parts = target.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            if target.hasPrefix("/") {
                parts.removeFirst()
                guard parts.starts(with: walk.base) else { throw walk.outside(path, link) }
                parts.removeFirst(walk.base.count)
                for fd in fds.dropFirst() { _ = Glibc.close(fd) }
                fds.removeLast(fds.count - 1)
                names = []
            }
            pending += parts.reversed().map { Pending(name: $0, link: link) }
        }

        /// A failed call on `next`: the path's first component missing makes the directory unusable; otherwise
        /// the errno, noting the link whose target `next` belongs to.
        func failure(_ code: Int32, _ next: Pending) -> Error {
            if code == ENOENT && links == 0 && fds.count == 1 && walk.base.isEmpty {
                return walk.unusable("has no '\(next.name)'")
            }
            return CallFailed(errno: code, note: next.link.map(walk.note))
        }
    }
}
