import ForbcCore
import ForbcSimulator
import Foundation

/// For tests of confinement under '--root': a materialized simulated T4 under `base`/root, and `base`/outside
/// beside it, with files a poisoned link points at, which no read or write of forbc may reach.
public struct PoisonedTree: Sendable {
    public let base: URL
    public let root: URL
    public let outside: URL
    public let sysfs: RealSysfs

    public static let gpu = "0000:3b:00.0"
    public static let uuid = "6f3c9b1e-2d4a-4c8e-9f1a-0b2c3d4e5f60"
    /// The kernel path apply writes a new partition's UUID to (through /sys/class/mdev_bus's link).
    public static let create = SysPath.mdevType(gpu, "nvidia-224", "create")
    /// Where that attribute lies on disk, as a kernel path.
    public static let createFile = SysPath.pci(gpu, "mdev_supported_types/nvidia-224/create")

    public init(profile: String = "nvidia-t4") throws {
        base = makeTemporaryDirectory("poisoned")
        root = base.appendingPathComponent("root")
        outside = base.appendingPathComponent("outside")
        sysfs = RealSysfs(root: root.path)
        try SimulatedKernel(model: SimulatedProfiles.make(profile)!).materialize(into: root)
        // Outside: a file, an mdev-like directory, a types directory, an mdev bus; all must stay as they are.
        for (path, text) in [
            "sentinel": "keep", "mdev/remove": "keep", "types/nvidia-224/create": "keep",
            "types/nvidia-224/available_instances": "4", "bus-mdev/devices/\(Self.uuid)/remove": "keep",
        ] {
            let url = outside.appendingPathComponent(path)
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: url)
        }
        // An mdev's directory as the kernel has it, for the cases that poison one.
        try FileManager.default.createDirectory(
            at: root.appendingPathComponent("sys/bus/mdev/devices/\(Self.uuid)"), withIntermediateDirectories: true)
        try Data("".utf8).write(to: root.appendingPathComponent("sys/bus/mdev/devices/\(Self.uuid)/remove"))
    }

    public func remove() { try? FileManager.default.removeItem(at: base) }

    /// Replaces whatever is at the kernel path `path` by a link to `target`.
    public func link(_ path: String, to target: String) throws {
        let url = root.appendingPathComponent(String(path.dropFirst()))
        try? FileManager.default.removeItem(at: url)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: url.path, withDestinationPath: target)
    }

    /// As many '..' as it takes to climb from the directory of the kernel path `path` to the directory above the
    /// root (the one holding 'root' and 'outside').
    public static func up(from path: String) -> String {
        String(repeating: "../", count: path.split(separator: "/").count)
    }

    /// A relative target from the directory of the kernel path `path` to `name` under the outside directory.
    public static func climbing(from path: String, to name: String) -> String { up(from: path) + "outside/\(name)" }

    /// Replaces whatever is at the kernel path `path` by an empty file.
    public func replaceWithFile(_ path: String) throws {
        let url = root.appendingPathComponent(String(path.dropFirst()))
        try? FileManager.default.removeItem(at: url)
        try Data().write(to: url)
    }

    /// Every file under the outside directory with its contents.
    public func outsideFiles() -> [String: Data] {
        var files: [String: Data] = [:]
        let enumerator = FileManager.default.enumerator(at: outside, includingPropertiesForKeys: nil)
        while let url = enumerator?.nextObject() as? URL { files[url.path] = (try? Data(contentsOf: url)) ?? Data() }
        return files
    }
}
