import ForbcCore
import ForbcSimulator
import ForbcTestSupport
import Foundation
import Testing

/// Real sysfs is read device by device on several threads; the inventory, and the error when a device cannot be read,
/// are those of one thread reading in order.
@Suite("discovery reads devices side by side")
struct ConcurrentDiscoveryTests {
    /// Real sysfs read by one thread only: the answers discovery gave before it read side by side.
    struct OneThread: SysfsChannel {
        let real: RealSysfs
        func read(_ path: String) throws -> String { try real.read(path) }
        func write(_ path: String, _ value: String) throws { try real.write(path, value) }
        func list(_ path: String) throws -> [String] { try real.list(path) }
        func readLink(_ path: String) throws -> String? { try real.readLink(path) }
        func exists(_ path: String) -> Bool { real.exists(path) }
        func values(in directory: String, _ names: [String]) throws -> [String?] {
            try real.values(in: directory, names)
        }
        func listings(in directory: String, _ names: [String]) throws -> [[String]] {
            try real.listings(in: directory, names)
        }
        var summary: String { real.summary }
        var isSimulated: Bool { false }
    }

    /// The inventory, or the error's message.
    static func discovered(_ sysfs: any SysfsChannel) -> String {
        do {
            let inventory = try Discovery(sysfs: sysfs).inventory()
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            return String(decoding: try encoder.encode(inventory), as: UTF8.self)
        } catch {
            return "error \((error as? ForbcError)?.message ?? "\(error)")"
        }
    }

    /// A materialized simulated host with partitions applied (mdevs on the A40's VFs, MI300X partitions).
    static func tree(_ profile: String) throws -> URL {
        let fixture = try SimulatedHostFixture(profile: profile)
        if FileManager.default.fileExists(atPath: RepositoryPaths.manifest(profile)) {
            try fixture.apply(try fixture.manifest(profile))
        }
        let root = makeTemporaryDirectory("side-by-side")
        try fixture.kernel.materialize(into: root)
        return root
    }

    @Test("the same inventory as one thread", arguments: ["nvidia-a40", "amd-mi300x", "nvidia-a100-80gb", "mtty"])
    func sameInventory(profile: String) throws {
        let root = try Self.tree(profile)
        defer { try? FileManager.default.removeItem(at: root) }
        let real = RealSysfs(root: root.path)
        #expect(real.readsConcurrently)
        let together = Self.discovered(real)
        #expect(!together.hasPrefix("error"), "\(together)")
        #expect(together == Self.discovered(OneThread(real: real)))
    }

    @Test("two unreadable devices: the error is the first one's, as one thread reading in order meets it")
    func firstError() throws {
        let root = try Self.tree("amd-mi300x")
        defer { try? FileManager.default.removeItem(at: root) }
        let real = RealSysfs(root: root.path)
        let devices = try real.list(SysPath.pciDevices).filter { Patterns.isPCIAddress($0) }
        try #require(devices.count >= 6)
        for address in [devices[2], devices[5]] {
            // A directory where the attribute must be: reading it fails (EISDIR), discovery stops there.
            let vendor = root.path + SysPath.pci(address, "vendor")
            let resolved = URL(fileURLWithPath: vendor).resolvingSymlinksInPath().path
            try FileManager.default.removeItem(atPath: resolved)
            try FileManager.default.createDirectory(atPath: resolved, withIntermediateDirectories: false)
        }
        let together = Self.discovered(real)
        #expect(together.hasPrefix("error") && together.contains(devices[2]), "\(together)")
        #expect(together == Self.discovered(OneThread(real: real)))
    }

    @Test("a listing larger than one getdents64 buffer: every name, sorted, '.' and '..' left out")
    func largeListing() throws {
        let root = makeTemporaryDirectory("listing")
        defer { try? FileManager.default.removeItem(at: root) }
        let directory = root.appendingPathComponent("sys/bus/mdev/devices")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        // 2,000 names of ~100 bytes fill several 32 KiB buffers; some are not ASCII, one is a single byte.
        var made: [String] = ["x", "é-ü", "\u{1F5A5} screen"]
        made += (0..<2000).map { String(format: "%04d-", $0) + String(repeating: "n", count: 95) }
        for name in made {
            FileManager.default.createFile(atPath: directory.appendingPathComponent(name).path, contents: nil)
        }
        let listed = try RealSysfs(root: root.path).list("/sys/bus/mdev/devices")
        #expect(listed == made.sorted())
        #expect(listed == (try FileManager.default.contentsOfDirectory(atPath: directory.path)).sorted())
    }
}
