import CLinux
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The real kernel: sysfs under a root directory (default "/"), read and written with POSIX calls so each
/// write is one write(2) whose errno is the kernel's answer (Foundation's file writes hide it, and its
/// atomic writes rename temporary files, which sysfs refuses). Under a root other than "/" every path is
/// resolved inside the root one component at a time (`ConfinedWalk`): no link takes a read or write outside.
public struct RealSysfs: SysfsChannel {
    public let root: String
    /// The root directory, kept open for reads beneath it; nil under "/".
    private let opened: OpenedDirectory?

    public init(root: String = "/") {
        self.root = root.count > 1 && root.hasSuffix("/") ? String(root.dropLast()) : root
        opened = self.root == "/" ? nil : OpenedDirectory(path: self.root)
    }

    public var summary: String { root == "/" ? "sysfs of this host" : "sysfs under '\(root)'" }
    public var isSimulated: Bool { false }
    /// The kernel answers reads from any thread; the root stays open behind a lock.
    public var readsConcurrently: Bool { true }

    /// The walk that keeps paths inside the root; none under "/", where plain open(2) is enough.
    var confinement: ConfinedWalk? {
        root == "/" ? nil : ConfinedWalk(directory: root, base: [], scope: "the root", opened: opened)
    }

    public func read(_ path: String) throws -> String {
        let fd = try descriptor(path, O_RDONLY | O_NONBLOCK, "reading", in: confinement)
        defer { close(fd) }
        try Self.requireAttribute(fd, path)
        return try Self.readAll(fd, path)
    }

    /// The most bytes an attribute may hold: a sysfs attribute holds at most a page, a binary one (a PCI device's
    /// config space) a few; anything larger in a tree under '--root' is not an attribute and is not read.
    static let maximumAttribute = 1 << 20

    /// Refuses the open file `fd` unless it is a regular file of at most `maximumAttribute` bytes, as every sysfs
    /// attribute is: a FIFO, a device or a directory in a tree is a located error, never a read that blocks or never
    /// ends. Every attribute is opened with O_NONBLOCK, so that a FIFO does not block the open(2) either; on a regular
    /// file (sysfs's and a copied tree's) the flag changes nothing, so it is left set.
    static func requireAttribute(_ fd: Int32, _ path: @autoclosure () -> String) throws {
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let code = errno
            throw ForbcError.sysfs("inspecting", path: path(), errno: code)
        }
        guard info.st_mode & S_IFMT == S_IFREG else { throw notAttribute(path(), BoundedFile.kind(info.st_mode)) }
        guard Int(info.st_size) <= maximumAttribute else { throw tooLarge(path()) }
    }

    /// A file that is not a regular file where an attribute must be.
    static func notAttribute(_ path: String, _ kind: String) -> ForbcError {
        ForbcError(.invalidInput, "refusing '\(path)': it is \(kind); a sysfs attribute is a regular file", path: path)
    }

    /// A file larger than any attribute.
    static func tooLarge(_ path: String) -> ForbcError {
        ForbcError(
            .invalidInput,
            "refusing '\(path)': it is over \(BoundedFile.describe(maximumAttribute)); not a sysfs attribute (one "
                + "holds at most a page, a binary one a few)", path: path)
    }

    /// Opens `directory` once (beneath the root, as every read is) and each attribute with one openat2 beneath that
    /// directory (no link followed out of it, no magic link), one read and one close: the kernel walks the long path
    /// through the bus links once per directory instead of once per attribute. An attribute the kernel does not open
    /// so (absent, a link leaving the directory, any error) is read by its whole path, as `value` reads it, so every
    /// answer and every message is `value`'s.
    public func values(in directory: String, _ names: [String]) throws -> [String?] {
        guard let dir = directoryDescriptor(directory) else {
            return try names.map { try value("\(directory)/\($0)") }
        }
        defer { close(dir) }
        // One buffer for the whole batch; a path is made only for a message.
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.readSize, alignment: 8)
        defer { buffer.deallocate() }
        return try names.map { name in
            guard Self.isPlain(name) else { return try value("\(directory)/\(name)") }
            let fd = forbc_openat2(
                dir, name, O_RDONLY | O_NONBLOCK | O_CLOEXEC, forbc_resolve_beneath | forbc_resolve_no_magiclinks)
            // ENOENT beneath the open directory is an absence whichever way the path is walked: a link leaving the
            // directory, or an absolute one, fails with EXDEV first, so the kernel stayed inside and found nothing.
            if fd < 0 && errno == ENOENT { return nil }
            guard fd >= 0 else { return try value("\(directory)/\(name)") }
            defer { close(fd) }
            try Self.requireAttribute(fd, "\(directory)/\(name)")
            return try Self.contents(fd, buffer, "\(directory)/\(name)", Self.trimmedText)
        }
    }

    /// Opens `directory` once, as `values` does, and each of `names` (a relative path to a directory) with one openat2
    /// beneath it; one that the kernel does not open so is listed by its whole path, as `entries` lists it.
    public func listings(in directory: String, _ names: [String]) throws -> [[String]] {
        guard let dir = directoryDescriptor(directory) else {
            return try names.map { try entries("\(directory)/\($0)") }
        }
        defer { close(dir) }
        return try names.map { name in
            let fd =
                Self.isPlain(name)
                ? forbc_openat2(
                    dir, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC, forbc_resolve_beneath | forbc_resolve_no_magiclinks)
                : -1
            guard fd >= 0 else { return try entries("\(directory)/\(name)") }
            return try Self.names(fd, "\(directory)/\(name)")
        }
    }

    /// Whether `name` is a relative path of plain components (no empty, '.' or '..' one, no NUL), as a kernel path's
    /// components must be; any other is read by its whole path, which refuses it as before.
    public static func isPlain(_ name: String) -> Bool {
        var length = 0
        var dots = true
        // A component is refused at its end: empty, or one or two dots.
        func component() -> Bool { length > 0 && !(dots && length <= 2) }
        for byte in name.utf8 {
            if byte == 0 { return false }
            if byte == UInt8(ascii: "/") {
                guard component() else { return false }
                (length, dots) = (0, true)
            } else {
                length += 1
                dots = dots && byte == UInt8(ascii: ".")
            }
        }
        return component()
    }

    /// `directory` opened (O_PATH) as a read would reach it: beneath the root, or by its plain path under "/"; nil
    /// when it cannot be (each attribute is then read by its path, which says why).
    func directoryDescriptor(_ directory: String) -> Int32? {
        guard ConfinedWalk.beneathAvailable else { return nil }
        if let walk = confinement { return walk.openBeneath(directory, flags: ConfinedWalk.openPath | O_DIRECTORY) }
        guard let parts = try? SysPath.components(directory) else { return nil }
        let fd = open("/" + parts.joined(separator: "/"), ConfinedWalk.openPath | O_DIRECTORY | O_CLOEXEC)
        return fd >= 0 ? fd : nil
    }

    /// The whole content of the open attribute. sysfs reports 4096 bytes for every attribute, so the size is not
    /// asked; an attribute is at most a page, and sysfs (like a regular file of a copied tree) returns all it holds
    /// in one read when the buffer is larger: a read shorter than the buffer is the end, and an attribute costs one
    /// read(2). A full buffer is read on to the end.
    static func readAll(_ fd: Int32, _ path: String) throws -> String {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: readSize, alignment: 8)
        defer { buffer.deallocate() }
        return try contents(fd, buffer, path) { String(decoding: $0, as: UTF8.self) }
    }

    /// The buffer of one attribute read: two pages.
    static let readSize = 8192

    /// `body` of the open attribute's whole content, read as `readAll` says: `buffer` itself when one read(2) shorter
    /// than it held everything, else the bytes read on to the end.
    static func contents<T>(
        _ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer, _ path: @autoclosure () -> String,
        _ body: (UnsafeRawBufferPointer) -> T
    ) throws -> T {
        var bytes: [UInt8] = []
        while true {
            var count = 0
            repeat { count = Glibc.read(fd, buffer.baseAddress, buffer.count) } while count < 0 && errno == EINTR
            if count < 0 {
                let code = errno
                throw ForbcError.sysfs("reading", path: path(), errno: code)
            }
            let chunk = UnsafeRawBufferPointer(rebasing: buffer[..<count])
            if bytes.isEmpty && count < buffer.count { return body(chunk) }
            bytes += chunk
            // A file that grows while it is read (fstat saw it small) stops here too.
            if bytes.count > maximumAttribute { throw tooLarge(path()) }
            if count < buffer.count { return bytes.withUnsafeBytes(body) }
        }
    }

    /// An attribute's bytes as `trimmed` gives its text: ASCII is trimmed on the bytes before it becomes a String
    /// (one String made, not two); anything else is decoded and trimmed by `trimmed`.
    static func trimmedText(_ bytes: UnsafeRawBufferPointer) -> String {
        guard bytes.allSatisfy({ $0 < 0x80 }) else { return trimmed(String(decoding: bytes, as: UTF8.self)) }
        func space(_ byte: UInt8) -> Bool { byte == 0x20 || (0x09...0x0D).contains(byte) }
        var slice = bytes[...]
        while let first = slice.first, space(first) { slice.removeFirst() }
        while let last = slice.last, space(last) { slice.removeLast() }
        return String(decoding: UnsafeRawBufferPointer(rebasing: slice), as: UTF8.self)
    }

    public func write(_ path: String, _ value: String) throws {
        try write(path, value, in: confinement)
    }

    /// One write to a sysfs attribute, for 'sysfs-write': the path must lie under '/sys', and it is resolved
    /// inside the root's 'sys' directory whatever the root ("/" too), so no link takes the write elsewhere.
    public func writeAttribute(_ path: String, _ value: String) throws {
        try SysPath.requireSysfs(path)
        let sys = ConfinedWalk(directory: (root == "/" ? "" : root) + "/sys", base: ["sys"], scope: "'/sys'")
        try write(path, value, in: sys)
    }

    /// Opens `path` for writing through `walk` (plain open(2) without one) and writes `value` with one write(2).
    func write(_ path: String, _ value: String, in walk: ConfinedWalk?) throws {
        let fd = try descriptor(path, O_WRONLY | O_NONBLOCK, "opening", in: walk, remedy: true)
        defer { close(fd) }
        try Self.requireAttribute(fd, path)
        let bytes = Array(value.utf8)
        var written: Int
        repeat {
            written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        } while written < 0 && errno == EINTR
        if written < 0 {
            throw ForbcError.sysfs("writing '\(value)' to", path: path, errno: errno, remedy: Self.remedy(errno))
        }
        if written != bytes.count {
            throw ForbcError(
                .system, "writing '\(value)' to \(path) wrote \(written) of \(bytes.count) bytes", path: path)
        }
    }

    public func list(_ path: String) throws -> [String] {
        try Self.names(try descriptor(path, O_RDONLY | O_DIRECTORY, "listing", in: confinement), path)
    }

    /// The names in the open directory `fd` (closed afterwards), sorted, without '.' and '..': getdents64(2) into one
    /// buffer until it returns 0, with none of fdopendir's fstat, fcntl and allocation.
    static func names(_ fd: Int32, _ path: @autoclosure () -> String) throws -> [String] {
        defer { close(fd) }
        let size = 32768
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 8)
        defer { buffer.deallocate() }
        var names: [String] = []
        while true {
            let count = forbc_getdents64(fd, buffer.baseAddress!, UInt(size))
            if count < 0 && errno == EINTR { continue }
            if count < 0 {
                let code = errno
                throw ForbcError.sysfs("listing", path: path(), errno: code)
            }
            if count == 0 { return names.sorted() }
            names += entryNames(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
        }
    }

    /// The names of the `struct linux_dirent64` records in `records` (d_reclen at offset 16, d_name from offset 19,
    /// NUL-terminated), '.' and '..' left out.
    static func entryNames(_ records: UnsafeRawBufferPointer) -> [String] {
        var names: [String] = []
        var offset = 0
        while offset + 19 < records.count {
            let length = Int(records.loadUnaligned(fromByteOffset: offset + 16, as: UInt16.self))
            guard length > 19, offset + length <= records.count else { break }
            let field = UnsafeRawBufferPointer(rebasing: records[(offset + 19)..<(offset + length)])
            let bytes = field.prefix { $0 != 0 }
            if !bytes.elementsEqual(".".utf8) && !bytes.elementsEqual("..".utf8) {
                names.append(String(decoding: bytes, as: UTF8.self))
            }
            offset += length
        }
        return names
    }

    public func readLink(_ path: String) throws -> String? {
        try translating("reading link", path) {
            try at(path, followLast: false, in: confinement) { dir, name, _ -> String? in
                var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
                let count = readlinkat(dir, name, &buffer, buffer.count - 1)
                if count < 0 {
                    if errno == EINVAL { return nil }
                    throw ConfinedWalk.CallFailed(errno: errno)
                }
                return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
        }
    }

    public func exists(_ path: String) -> Bool {
        let found = try? at(path, followLast: false, in: confinement) { dir, name, _ in
            var info = stat()
            return fstatat(dir, name, &info, AT_SYMLINK_NOFOLLOW) == 0
        }
        return found ?? false
    }

    /// Runs `body` on a directory descriptor, a name in it and the flag that keeps a last link from being
    /// followed: under "/", the whole path from the current directory (open(2) as it is); with `walk`, the
    /// directory and name the confined walk resolved, and O_NOFOLLOW so that nothing swapped in since is followed.
    func at<T>(
        _ path: String, followLast: Bool, in walk: ConfinedWalk?, _ body: (Int32, String, Int32) throws -> T
    ) throws -> T {
        guard let walk else {
            let parts = try SysPath.components(path)
            return try body(AT_FDCWD, "/" + parts.joined(separator: "/"), 0)
        }
        if !followLast, let answer = try walk.beneath(path, { dir, name in try body(dir, name, O_NOFOLLOW) }) {
            return answer
        }
        return try walk.resolve(path, followLast: followLast) { dir, name in try body(dir, name, O_NOFOLLOW) }
    }

    /// Opens `path` with `flags`, following a last link (inside the root); a failure is the kernel's errno in
    /// forbc's words, with the remedy for permissions when `remedy` is set.
    func descriptor(
        _ path: String, _ flags: Int32, _ operation: String, in walk: ConfinedWalk?, remedy: Bool = false
    ) throws -> Int32 {
        if let walk, let fd = walk.openBeneath(path, flags: flags) { return fd }
        return try translating(operation, path, remedy: remedy) {
            try at(path, followLast: true, in: walk) { dir, name, noFollow in
                let fd = openat(dir, name, flags | noFollow | O_CLOEXEC)
                guard fd >= 0 else {
                    let code = errno
                    // A FIFO without a reader (O_WRONLY|O_NONBLOCK) or a socket: say what it is.
                    var info = stat()
                    if code == ENXIO, fstatat(dir, name, &info, 0) == 0, info.st_mode & S_IFMT != S_IFREG {
                        throw Self.notAttribute(path, BoundedFile.kind(info.st_mode))
                    }
                    throw ConfinedWalk.CallFailed(errno: code)
                }
                return fd
            }
        }
    }

    /// Runs `body`, turning a failed call into forbc's error for `operation` on `path`.
    func translating<T>(_ operation: String, _ path: String, remedy: Bool = false, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let failure as ConfinedWalk.CallFailed {
            let remedies = [remedy ? Self.remedy(failure.errno) : nil, failure.note].compactMap { $0 }
            throw ForbcError.sysfs(
                operation, path: path, errno: failure.errno,
                remedy: remedies.isEmpty ? nil : remedies.joined(separator: "; "))
        }
    }

    static func remedy(_ code: Int32) -> String? {
        switch code {
        case EACCES, EPERM: "run forbc as root"
        case EROFS: "sysfs is mounted read-only here"
        default: nil
        }
    }
}
