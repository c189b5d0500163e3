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
/// atomic writes rename temporary files, which sysfs refuses).
public struct RealSysfs: SysfsChannel {
    public let root: String

    public init(root: String = "/") {
        self.root = root.count > 1 && root.hasSuffix("/") ? String(root.dropLast()) : root
    }

    public var summary: String { root == "/" ? "sysfs of this host" : "sysfs under '\(root)'" }
    public var isSimulated: Bool { false }

    /// The path on disk: the kernel path joined under the root, refusing any escape.
    public func resolve(_ path: String) throws -> String {
        let parts = try SysPath.components(path)
        return (root == "/" ? "" : root) + "/" + parts.joined(separator: "/")
    }

    public func read(_ path: String) throws -> String {
        let full = try resolve(path)
        let fd = open(full, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ForbcError.sysfs("reading", path: path, errno: errno) }
        defer { close(fd) }
        // sysfs reports 4096 bytes for every attribute: read to end of file, not to the reported size.
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw ForbcError.sysfs("reading", path: path, errno: errno)
            }
            if count == 0 { break }
            bytes.append(contentsOf: buffer[0..<count])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    public func write(_ path: String, _ value: String) throws {
        let full = try resolve(path)
        let fd = open(full, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ForbcError.sysfs("opening", path: path, errno: errno, remedy: Self.remedy(errno)) }
        defer { close(fd) }
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
        let full = try resolve(path)
        guard let dir = opendir(full) else { throw ForbcError.sysfs("listing", path: path, errno: errno) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    public func readLink(_ path: String) throws -> String? {
        let full = try resolve(path)
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink(full, &buffer, buffer.count - 1)
        if count < 0 {
            if errno == EINVAL { return nil }
            throw ForbcError.sysfs("reading link", path: path, errno: errno)
        }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public func exists(_ path: String) -> Bool {
        guard let full = try? resolve(path) else { return false }
        var info = stat()
        return lstat(full, &info) == 0
    }

    static func remedy(_ code: Int32) -> String? {
        switch code {
        case EACCES, EPERM: "run forbc as root"
        case EROFS: "sysfs is mounted read-only here"
        default: nil
        }
    }
}
