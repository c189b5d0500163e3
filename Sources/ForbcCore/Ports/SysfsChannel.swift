import Foundation

/// The one seam between forbc and the kernel's sysfs. Paths are kernel paths ("/sys/bus/pci/devices");
/// the real side joins them under `--root`, the simulated side answers them from its model.
public protocol SysfsChannel: Sendable {
    /// The whole value of an attribute, as the kernel returns it (usually newline-terminated).
    func read(_ path: String) throws -> String
    /// One write(2) of `value` to an attribute; the kernel's errno comes back as `ForbcError` with `.system`.
    func write(_ path: String, _ value: String) throws
    /// The names in a directory, sorted; throws ENOENT when it does not exist.
    func list(_ path: String) throws -> [String]
    /// The target of a symbolic link, or nil when `path` is not a link.
    func readLink(_ path: String) throws -> String?
    /// Whether anything exists at `path`.
    func exists(_ path: String) -> Bool
    /// The trimmed values of the attributes `names` (paths relative to `directory`, without '.' or '..'), each exactly
    /// as `value` gives it (nil when absent). The real side opens the directory once and each attribute beneath it.
    func values(in directory: String, _ names: [String]) throws -> [String?]
    /// The entries of the directories `names` (relative paths) in `directory`, each exactly as `entries` gives them
    /// ([] when absent). The real side opens `directory` once and each listed directory relative to it.
    func listings(in directory: String, _ names: [String]) throws -> [[String]]
    /// A sentence saying what this channel is ("sysfs under /", "simulated host 'nvidia-t4'").
    var summary: String { get }
    /// Whether this channel is a simulation, so every output can say so.
    var isSimulated: Bool { get }
    /// Whether reads may run on several threads at once (discovery then reads the devices side by side).
    var readsConcurrently: Bool { get }
}

extension SysfsChannel {
    /// One thread at a time, unless a channel says otherwise.
    public var readsConcurrently: Bool { false }

    /// One `value` per attribute: what a channel without a faster way does.
    public func values(in directory: String, _ names: [String]) throws -> [String?] {
        try names.map { try value("\(directory)/\($0)") }
    }

    /// One `entries` per directory: what a channel without a faster way does.
    public func listings(in directory: String, _ names: [String]) throws -> [[String]] {
        try names.map { try entries("\(directory)/\($0)") }
    }

    /// A trimmed attribute value, or nil when the attribute does not exist (ENOENT: a capability that is absent).
    /// Anything else is an error, ENOTDIR included: a path component that must be a directory and is not is a
    /// malformed tree, not an absence.
    func value(_ path: String) throws -> String? {
        do {
            return Self.trimmed(try read(path))
        } catch let error as ForbcError where error.errno == Errno.ENOENT {
            return nil
        }
    }

    /// An attribute's text without the whitespace and newlines around it (Foundation's `whitespacesAndNewlines`).
    /// Attributes are ASCII: there those are tab, LF, VT, FF, CR and space, trimmed here on the bytes; any other
    /// text is trimmed by Foundation.
    static func trimmed(_ text: String) -> String {
        var bytes = text.utf8[...]
        guard bytes.allSatisfy({ $0 < 0x80 }) else { return text.trimmingCharacters(in: .whitespacesAndNewlines) }
        func space(_ byte: UInt8) -> Bool { byte == 0x20 || (0x09...0x0D).contains(byte) }
        while let first = bytes.first, space(first) { bytes.removeFirst() }
        while let last = bytes.last, space(last) { bytes.removeLast() }
        return String(Substring(bytes))
    }

    /// Directory entries, or [] when the directory does not exist (ENOENT: a capability that is absent); a file
    /// where a directory must be (ENOTDIR) is an error, so that a malformed tree never reads as "no partitions".
    func entries(_ path: String) throws -> [String] {
        do {
            return try list(path)
        } catch let error as ForbcError where error.errno == Errno.ENOENT {
            return []
        }
    }

    /// The last path component of a link's target ("nvidia" for driver -> ../../../bus/pci/drivers/nvidia), or nil
    /// when there is no such link (ENOENT).
    func linkName(_ path: String) throws -> String? {
        do {
            return try readLink(path).map { String($0.split(separator: "/").last ?? "") }
        } catch let error as ForbcError where error.errno == Errno.ENOENT {
            return nil
        }
    }
}
