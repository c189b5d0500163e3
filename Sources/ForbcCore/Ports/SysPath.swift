import Foundation

/// Kernel paths forbc reads and writes, built in one place from validated components.
public enum SysPath {
    public static let pciDevices = "/sys/bus/pci/devices"
    public static let mdevBus = "/sys/class/mdev_bus"
    public static let mdevDevices = "/sys/bus/mdev/devices"

    public static func pci(_ address: String, _ attribute: String? = nil) -> String {
        attribute.map { "\(pciDevices)/\(address)/\($0)" } ?? "\(pciDevices)/\(address)"
    }

    public static func mdevTypes(_ parent: String) -> String { "\(mdevBus)/\(parent)/mdev_supported_types" }

    public static func mdevType(_ parent: String, _ type: String, _ attribute: String) -> String {
        "\(mdevTypes(parent))/\(type)/\(attribute)"
    }

    public static func mdev(_ uuid: String, _ attribute: String? = nil) -> String {
        attribute.map { "\(mdevDevices)/\(uuid)/\($0)" } ?? "\(mdevDevices)/\(uuid)"
    }

    /// Splits a kernel path into components, refusing anything that could leave the tree it names:
    /// relative paths, '..', '.', empty components and NUL bytes.
    public static func components(_ path: String) throws -> [Substring] {
        guard path.hasPrefix("/"), !path.contains("\0") else {
            throw ForbcError(.invalidInput, "refusing kernel path '\(path)': it must be absolute", path: path)
        }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        for part in parts where part.isEmpty || part == "." || part == ".." {
            throw ForbcError(
                .invalidInput, "refusing kernel path '\(path)': '\(part)' would leave the tree it names", path: path)
        }
        return Array(parts)
    }

    /// Refuses a kernel path that is not a sysfs attribute path (under '/sys'), for 'sysfs-write'.
    public static func requireSysfs(_ path: String) throws {
        let parts = try components(path)
        guard parts.count > 1, parts[0] == "sys" else {
            throw ForbcError(
                .invalidInput,
                "refusing '\(path)': 'sysfs-write' writes sysfs attributes only; name a path under '/sys'",
                path: path)
        }
    }
}
