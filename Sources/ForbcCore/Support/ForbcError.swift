import Foundation

/// The one error type of forbc: a code callers can switch on, a message in forbc's voice
/// (lower case, identifiers in single quotes, the remedy after a semicolon) and an optional cause.
public struct ForbcError: Error, LocalizedError, CustomStringConvertible, Sendable, Equatable {
    /// What kind of failure this is.
    public enum Code: String, Sendable, Codable {
        /// The manifest or a command-line argument is wrong; nothing was changed.
        case invalidInput
        /// The host cannot reach what the manifest asks (capacity, missing type or GPU); nothing was changed.
        case impossible
        /// A read or write of a kernel interface failed.
        case system
        /// The live state changed between planning and acting.
        case changedWorld
        /// Another forbc holds the host's lock.
        case locked
        /// The user did not confirm a destructive change.
        case notConfirmed
        /// A capability this build, host or driver does not have.
        case unsupported
        /// The hypervisor (libvirt) refused a call; the message holds libvirt's own words.
        case hypervisor
    }

    public var code: Code
    public var message: String
    /// The kernel path or call involved, when there is one.
    public var path: String?
    /// The errno of the failed call, when there is one.
    public var errno: Int32?
    /// The underlying error (Foundation's, Yams', SQLite's…) that the message summarizes; `-v` shows it.
    public var cause: (any Error)?

    public init(_ code: Code, _ message: String, path: String? = nil, errno: Int32? = nil, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.path = path
        self.errno = errno
        self.cause = cause
    }

    /// Equal when code, message, path and errno are; the cause is detail for people, not identity.
    public static func == (lhs: ForbcError, rhs: ForbcError) -> Bool {
        lhs.code == rhs.code && lhs.message == rhs.message && lhs.path == rhs.path && lhs.errno == rhs.errno
    }

    /// The cause as people read it with `-v` (its type and its own description), or nil.
    public var causeDescription: String? {
        cause.map { "\(type(of: $0)): \(String(describing: $0))" }
    }

    public var description: String { message }
    public var errorDescription: String? { message }

    /// A failed kernel-interface call: "writing '4' to PATH failed: device or resource busy; REMEDY".
    public static func sysfs(_ operation: String, path: String, errno: Int32, remedy: String? = nil) -> ForbcError {
        var text = "\(operation) \(path) failed: \(Errno.describe(errno))"
        if let remedy { text += "; \(remedy)" }
        return ForbcError(.system, text, path: path, errno: errno)
    }
}

/// Errno numbers and their texts, as Linux defines them, without importing the C library into the core.
/// The constants keep the C names (EBUSY), which is what people search for.
// swift-format-ignore: AlwaysUseLowerCamelCase
public enum Errno {
    public static let EPERM: Int32 = 1
    public static let ENOENT: Int32 = 2
    public static let EIO: Int32 = 5
    public static let ENXIO: Int32 = 6
    public static let EAGAIN: Int32 = 11
    public static let ENOMEM: Int32 = 12
    public static let EACCES: Int32 = 13
    public static let EBUSY: Int32 = 16
    public static let EEXIST: Int32 = 17
    public static let ENODEV: Int32 = 19
    public static let ENOTDIR: Int32 = 20
    public static let EISDIR: Int32 = 21
    public static let EINVAL: Int32 = 22
    public static let ENOSPC: Int32 = 28
    public static let EROFS: Int32 = 30
    public static let ERANGE: Int32 = 34
    public static let ENOSYS: Int32 = 38
    public static let ELOOP: Int32 = 40
    public static let ENOTSUP: Int32 = 95
    public static let EUSERS: Int32 = 87

    static let names: [Int32: (String, String)] = [
        EPERM: ("EPERM", "operation not permitted"), ENOENT: ("ENOENT", "no such file or directory"),
        EIO: ("EIO", "input/output error"), ENXIO: ("ENXIO", "no such device or address"),
        EAGAIN: ("EAGAIN", "resource temporarily unavailable"), ENOMEM: ("ENOMEM", "cannot allocate memory"),
        EACCES: ("EACCES", "permission denied"), EBUSY: ("EBUSY", "device or resource busy"),
        EEXIST: ("EEXIST", "file exists"), ENODEV: ("ENODEV", "no such device"),
        ENOTDIR: ("ENOTDIR", "not a directory"), EISDIR: ("EISDIR", "is a directory"),
        EINVAL: ("EINVAL", "invalid argument"), ENOSPC: ("ENOSPC", "no space left on device"),
        EROFS: ("EROFS", "read-only file system"), ERANGE: ("ERANGE", "numerical result out of range"),
        ENOSYS: ("ENOSYS", "function not implemented"), ELOOP: ("ELOOP", "too many levels of symbolic links"),
        ENOTSUP: ("EOPNOTSUPP", "operation not supported"),
        EUSERS: ("EUSERS", "too many users"),
    ]

    /// "device or resource busy (EBUSY)".
    public static func describe(_ code: Int32) -> String {
        guard let (name, text) = names[code] else { return "errno \(code)" }
        return "\(text) (\(name))"
    }

    /// The symbolic name ("EBUSY") of an errno, or its number.
    public static func name(_ code: Int32) -> String { names[code]?.0 ?? "\(code)" }

    /// The errno for a symbolic name, for fault injection from the command line.
    public static func code(named name: String) -> Int32? {
        names.first { $0.value.0 == name.uppercased() }?.key
    }
}
