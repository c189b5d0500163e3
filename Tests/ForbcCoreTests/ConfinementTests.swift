import ForbcCore
import ForbcSimulator
import ForbcTestSupport
import Foundation
import Testing

/// One way to poison a tree: the link made, and the write that must not leave the root.
struct Poison: CustomTestStringConvertible, Sendable {
    let label: String
    /// The kernel path turned into a link, and its target (given the outside directory's path).
    let link: String
    let target: @Sendable (URL) -> String
    /// The kernel path written, and the link the refusal must name.
    let write: String
    let named: String

    var testDescription: String { label }

    static let all: [Poison] = [
        Poison(
            label: "an attribute linked to a file outside with '../..'", link: PoisonedTree.createFile,
            target: { _ in PoisonedTree.climbing(from: PoisonedTree.createFile, to: "sentinel") },
            write: PoisonedTree.create, named: PoisonedTree.createFile),
        Poison(
            label: "an attribute linked absolutely to a file outside", link: PoisonedTree.createFile,
            target: { $0.appendingPathComponent("sentinel").path }, write: PoisonedTree.create,
            named: PoisonedTree.createFile),
        Poison(
            label: "a link in the middle of the path, to a directory outside",
            link: SysPath.pci(PoisonedTree.gpu, "mdev_supported_types"),
            target: { _ in
                PoisonedTree.climbing(from: SysPath.pci(PoisonedTree.gpu, "mdev_supported_types"), to: "types")
            },
            write: PoisonedTree.create, named: SysPath.pci(PoisonedTree.gpu, "mdev_supported_types")),
        Poison(
            label: "an mdev directory linked to a directory outside", link: SysPath.mdev(PoisonedTree.uuid),
            target: { _ in PoisonedTree.climbing(from: SysPath.mdev(PoisonedTree.uuid), to: "mdev") },
            write: SysPath.mdev(PoisonedTree.uuid, "remove"), named: SysPath.mdev(PoisonedTree.uuid)),
        Poison(
            label: "a 'remove' attribute linked to a file outside", link: SysPath.mdev(PoisonedTree.uuid, "remove"),
            target: { _ in PoisonedTree.climbing(from: SysPath.mdev(PoisonedTree.uuid, "remove"), to: "sentinel") },
            write: SysPath.mdev(PoisonedTree.uuid, "remove"), named: SysPath.mdev(PoisonedTree.uuid, "remove")),
        Poison(
            label: "the mdev bus linked absolutely to a directory outside", link: "/sys/bus/mdev",
            target: { $0.appendingPathComponent("bus-mdev").path }, write: SysPath.mdev(PoisonedTree.uuid, "remove"),
            named: "/sys/bus/mdev"),
        Poison(
            label: "a link that climbs above the root and back in", link: PoisonedTree.createFile,
            target: { _ in
                PoisonedTree.up(from: PoisonedTree.createFile)
                    + "root/sys/bus/pci/devices/\(PoisonedTree.gpu)/mdev_supported_types/nvidia-224/name"
            },
            write: PoisonedTree.create, named: PoisonedTree.createFile),
    ]
}

@Suite("confinement under --root")
struct ConfinementTests {
    @Test(
        "a poisoned link never takes a read, write or listing outside the root; the error names the link",
        arguments: Poison.all)
    func poisoned(poison: Poison) throws {
        let tree = try PoisonedTree()
        defer { tree.remove() }
        try tree.link(poison.link, to: poison.target(tree.outside))
        let before = tree.outsideFiles()
        let error = try #require(throws: ForbcError.self) { try tree.sysfs.write(poison.write, "1") }
        #expect(error.message.contains("'\(poison.named)'"), "\(error.message)")
        #expect(error.path == poison.write)
        #expect(throws: ForbcError.self) { try tree.sysfs.read(poison.write) }
        // Listing through the link is refused too (or, taken inside the root, finds nothing there).
        if poison.named != poison.write { #expect(throws: ForbcError.self) { try tree.sysfs.list(poison.named) } }
        #expect(tree.outsideFiles() == before)
    }

    @Test("a link climbing above the root is refused by name, with its target")
    func refusalMessage() throws {
        let tree = try PoisonedTree()
        defer { tree.remove() }
        let target = PoisonedTree.climbing(from: PoisonedTree.createFile, to: "sentinel")
        try tree.link(PoisonedTree.createFile, to: target)
        let error = try #require(throws: ForbcError.self) { try tree.sysfs.write(PoisonedTree.create, "x") }
        #expect(
            error.message
                == "refusing '\(PoisonedTree.create)': the link '\(PoisonedTree.createFile)' points outside the root "
                + "('\(target)'); links must stay inside the root")
        // Reading the link itself opens nothing behind it.
        #expect(try tree.sysfs.readLink(PoisonedTree.createFile) == target)
        #expect(tree.sysfs.exists(PoisonedTree.createFile))
    }

    @Test("link loops end in an error naming a link, not a hang", arguments: [1, 2])
    func loops(length: Int) throws {
        let tree = try PoisonedTree()
        defer { tree.remove() }
        // create -> loop-1 -> … -> create, in the same directory.
        let directory = (PoisonedTree.createFile as NSString).deletingLastPathComponent
        let names = ["create"] + (1..<length).map { "loop-\($0)" }
        for (i, name) in names.enumerated() {
            try tree.link("\(directory)/\(name)", to: names[(i + 1) % names.count])
        }
        let error = try #require(throws: ForbcError.self) { try tree.sysfs.write(PoisonedTree.create, "x") }
        #expect(error.errno == Errno.ELOOP)
        #expect(error.message.contains("more than 40 links"), "\(error.message)")
        #expect(error.message.contains("'\(directory)/"), "\(error.message)")
    }

    @Test("links that stay inside are followed: relative ones with '..', absolute ones taken inside the root")
    func linksInside() throws {
        let tree = try PoisonedTree()
        defer { tree.remove() }
        // The materialized tree's own links: /sys/class/mdev_bus/GPU -> ../../bus/pci/devices/GPU.
        try tree.sysfs.write(PoisonedTree.create, "first")
        let file = tree.root.appendingPathComponent(String(PoisonedTree.createFile.dropFirst()))
        #expect(try String(contentsOf: file, encoding: .utf8) == "first")
        try tree.link("/sys/class/mdev_bus/\(PoisonedTree.gpu)", to: "/sys/bus/pci/devices/\(PoisonedTree.gpu)")
        #expect(try tree.sysfs.read(SysPath.mdevType(PoisonedTree.gpu, "nvidia-224", "create")) == "first")
        #expect(try tree.sysfs.list(SysPath.mdevTypes(PoisonedTree.gpu)).contains("nvidia-224"))
        // A link that goes up and comes back down inside the root.
        try tree.link("/sys/bus/x", to: "../../sys/./bus/pci/../pci/devices/")
        #expect(try tree.sysfs.list("/sys/bus/x") == tree.sysfs.list(SysPath.pciDevices))
        let inventory = try Discovery(sysfs: tree.sysfs).inventory()
        #expect(inventory.gpus.count == 2)
    }

    @Test("apply with a poisoned 'create': the failed step names the link; nothing outside changes")
    func poisonedApply() throws {
        let tree = try PoisonedTree()
        defer { tree.remove() }
        let target = PoisonedTree.climbing(from: PoisonedTree.createFile, to: "sentinel")
        try tree.link(PoisonedTree.createFile, to: target)
        let before = tree.outsideFiles()
        let host = HostSession(
            sysfs: tree.sysfs, store: StateStore(directory: tree.base.appendingPathComponent("state")))
        let manifest = try ManifestParser.parse(text: FaultTests.before, file: "t4.yaml")
        let report = try host.apply(try host.plan(manifest))
        let failed = try #require(report.failed)
        #expect(failed.action.path == PoisonedTree.create)
        #expect(failed.error.message.contains("the link '\(PoisonedTree.createFile)' points outside the root"))
        #expect(tree.outsideFiles() == before)
    }

    @Test("a root that does not exist, or holds no 'sys', is an error naming it; an empty 'sys' is no GPU")
    func unusableRoot() throws {
        let base = makeTemporaryDirectory("roots")
        defer { try? FileManager.default.removeItem(at: base) }
        let missing = base.appendingPathComponent("nonexistent").path
        let error = try #require(throws: ForbcError.self) {
            try Discovery(sysfs: RealSysfs(root: missing)).inventory()
        }
        #expect(
            error.message
                == "the root '\(missing)' cannot be opened: no such file or directory (ENOENT); '--root' names a "
                + "directory holding a copy of sysfs under 'sys'")
        let bare = makeTemporaryDirectory("bare")
        defer { try? FileManager.default.removeItem(at: bare) }
        let noSys = try #require(throws: ForbcError.self) {
            try Discovery(sysfs: RealSysfs(root: bare.path)).inventory()
        }
        #expect(noSys.message.hasPrefix("the root '\(bare.path)' has no 'sys'; "), "\(noSys.message)")
        try FileManager.default.createDirectory(
            at: bare.appendingPathComponent("sys"), withIntermediateDirectories: true)
        let inventory = try Discovery(sysfs: RealSysfs(root: bare.path)).inventory()
        #expect(inventory.gpus.isEmpty && inventory.mdevParents.isEmpty && inventory.mdevs.isEmpty)
    }

    @Test("a type's 'devices' that is a file is a malformed tree (ENOTDIR), an error, not an absence")
    func devicesIsAFile() throws {
        let tree = try PoisonedTree()
        defer { tree.remove() }
        let devices = SysPath.pci(PoisonedTree.gpu, "mdev_supported_types/nvidia-224/devices")
        try tree.replaceWithFile(devices)
        let error = try #require(throws: ForbcError.self) { try Discovery(sysfs: tree.sysfs).inventory() }
        #expect(error.errno == Errno.ENOTDIR)
        #expect(error.message == "listing \(devices) failed: not a directory (ENOTDIR)")
    }

    @Test("'sysfs-write' takes sysfs attributes only, and resolves them inside the root's 'sys'")
    func attributeWrites() throws {
        let tree = try PoisonedTree()
        defer { tree.remove() }
        for path in ["/etc/passwd", "/sys", "/proc/sys/kernel/hostname"] {
            let error = try #require(throws: ForbcError.self) { try tree.sysfs.writeAttribute(path, "x") }
            #expect(
                error.message
                    == "refusing '\(path)': 'sysfs-write' writes sysfs attributes only; name a path under '/sys'")
        }
        try tree.link(SysPath.mdev(PoisonedTree.uuid), to: "/etc")
        let error = try #require(throws: ForbcError.self) {
            try tree.sysfs.writeAttribute(SysPath.mdev(PoisonedTree.uuid, "remove"), "1")
        }
        #expect(error.message.contains("the link '\(SysPath.mdev(PoisonedTree.uuid))' points outside '/sys' ('/etc')"))
        try tree.sysfs.writeAttribute(PoisonedTree.create, "ok")
        #expect(try tree.sysfs.read(PoisonedTree.create) == "ok")
    }
}
