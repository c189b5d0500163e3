import ForbcCore
import ForbcSimulator
import ForbcTestSupport
import Foundation
import Testing

/// `values(in:)`, which opens a directory once and each attribute relative to it, answers exactly as one read per
/// attribute by its whole path does: the same values, the same absences, the same errors.
@Suite("attribute values read through their directory")
struct AttributeValuesTests {
    /// What one read of `path` gives: the trimmed value, nil when absent, or the error's message.
    static func one(_ sysfs: any SysfsChannel, _ path: String) -> String {
        do {
            return "value " + (try sysfs.read(path)).trimmingCharacters(in: .whitespacesAndNewlines)
        } catch let error as ForbcError where error.errno == Errno.ENOENT {
            return "absent"
        } catch {
            return "error \((error as? ForbcError)?.message ?? "\(error)")"
        }
    }

    /// What `values(in:)` gives for `names`, in `one`'s terms; an error is the first failing name's.
    static func together(_ sysfs: any SysfsChannel, _ directory: String, _ names: [String]) -> [String] {
        do {
            return try sysfs.values(in: directory, names).map { $0.map { "value " + $0 } ?? "absent" }
        } catch {
            return ["error \((error as? ForbcError)?.message ?? "\(error)")"]
        }
    }

    static func expectSame(_ sysfs: any SysfsChannel, _ directory: String, _ names: [String]) {
        var expected: [String] = []
        for name in names {
            let answer = one(sysfs, "\(directory)/\(name)")
            expected.append(answer)
            if answer.hasPrefix("error") {
                expected = [answer]
                break
            }
        }
        #expect(together(sysfs, directory, names) == expected, "\(directory): \(names)")
    }

    @Test("under --root: plain attributes, links inside and outside the directory, absent ones, refusals")
    func underRoot() throws {
        let tree = try PoisonedTree()
        defer { tree.remove() }
        let types = SysPath.pci(PoisonedTree.gpu, "mdev_supported_types")
        let type = "\(types)/nvidia-224"
        let names = ["name", "description", "available_instances", "device_api"]
        Self.expectSame(tree.sysfs, type, names + ["absent"])
        // A link to a sibling type's attribute (out of the directory, inside the root), an absolute one.
        try tree.link("\(type)/name", to: "../nvidia-225/name")
        try tree.link("\(type)/description", to: "/sys/bus/pci/devices/\(PoisonedTree.gpu)/vendor")
        Self.expectSame(tree.sysfs, type, names)
        // A link out of the root is the same refusal, naming the link.
        try tree.link("\(type)/device_api", to: PoisonedTree.climbing(from: "\(type)/device_api", to: "sentinel"))
        Self.expectSame(tree.sysfs, type, names)
        #expect(Self.together(tree.sysfs, type, names).first?.contains("'\(type)/device_api'") == true)
        // Whitespace around values (ASCII controls and spaces, and not ASCII), trimmed as Foundation trims it.
        let texts = [
            " \t 24\n", "\u{0B}\u{0C}\r\nGRID A40-2Q\r\n\n", "\n\n", "", "a b\t", "\u{00A0}x\u{2028}", "\u{85}é \n",
            "\u{1C}x\u{1F}", "\u{3000}\u{2029}y z\u{0}\n",
            // Around one read's 8192 bytes: exactly, one short, one over, and a character split across two reads.
            String(repeating: "a", count: 8192), " " + String(repeating: "b", count: 8190) + "\n",
            String(repeating: "c", count: 8192) + "\n", String(repeating: "d", count: 8191) + "é" + "\n",
            String(repeating: " ", count: 9000), String(repeating: "e", count: 20000) + "\u{2028}",
        ]
        for (index, text) in texts.enumerated() {
            let file = tree.root.appendingPathComponent(String("\(type)/text-\(index)".dropFirst()))
            try Data(text.utf8).write(to: file)
        }
        Self.expectSame(tree.sysfs, type, texts.indices.map { "text-\($0)" })
        // Both sides above read through the same code: the texts themselves, trimmed by Foundation, are the answer.
        let read = try tree.sysfs.values(in: type, texts.indices.map { "text-\($0)" })
        for (index, (value, text)) in zip(read, texts).enumerated() {
            let expected = text.trimmingCharacters(in: .whitespacesAndNewlines)
            let same = value == expected
            #expect(same, "text-\(index): \(value?.utf8.count ?? -1) bytes read, \(expected.utf8.count) expected")
        }
        // Paths below the directory, and ones that are not plain (refused by the whole path's read, as ever).
        Self.expectSame(tree.sysfs, types, ["nvidia-224/name", "nvidia-224/absent", "absent/name"])
        for name in ["../nvidia-224/name", "nvidia-224/../nvidia-224/name", "./nvidia-224/name", "nvidia-224//name"] {
            Self.expectSame(tree.sysfs, types, [name])
        }
        // A directory that is absent, a file, or a link out of the root.
        Self.expectSame(tree.sysfs, "\(types)/nvidia-999", names)
        try tree.replaceWithFile("\(types)/nvidia-225")
        Self.expectSame(tree.sysfs, "\(types)/nvidia-225", names)
        try tree.link("\(types)/nvidia-226", to: PoisonedTree.climbing(from: "\(types)/nvidia-226", to: "types"))
        Self.expectSame(tree.sysfs, "\(types)/nvidia-226", names)
    }

    /// What `list` gives for each of `names` in `directory` (nil for ENOENT), then `listings(in:)`, as texts.
    static func listed(_ sysfs: any SysfsChannel, _ directory: String, _ names: [String]) -> (String, String) {
        var one: [String] = []
        for name in names {
            do {
                one.append("\(try sysfs.list("\(directory)/\(name)"))")
            } catch let error as ForbcError where error.errno == Errno.ENOENT {
                one.append("[]")
            } catch {
                one = ["error \((error as? ForbcError)?.message ?? "\(error)")"]
                break
            }
        }
        do {
            return (
                one.joined(separator: " "),
                try sysfs.listings(in: directory, names).map { "\($0)" }.joined(separator: " ")
            )
        } catch {
            return (one.joined(separator: " "), "error \((error as? ForbcError)?.message ?? "\(error)")")
        }
    }

    @Test("listings under --root: present, absent, a file, links in and out of the directory")
    func listingsUnderRoot() throws {
        let tree = try PoisonedTree()
        defer { tree.remove() }
        let types = SysPath.pci(PoisonedTree.gpu, "mdev_supported_types")
        let names = try tree.sysfs.list(types).map { "\($0)/devices" } + ["nvidia-999/devices"]
        let (one, together) = Self.listed(tree.sysfs, types, names)
        #expect(one == together)
        try tree.link("\(types)/nvidia-224/devices", to: "/sys/bus/mdev/devices")
        try tree.link("\(types)/nvidia-225", to: PoisonedTree.climbing(from: "\(types)/nvidia-225", to: "types"))
        for name in ["nvidia-224/devices", "nvidia-225/devices"] {
            let (one, together) = Self.listed(tree.sysfs, types, [name])
            #expect(one == together, "\(name)")
        }
        try tree.replaceWithFile("\(types)/nvidia-226/devices")
        let (file, fileTogether) = Self.listed(tree.sysfs, types, ["nvidia-226/devices"])
        #expect(file == fileTogether)
        #expect(file.hasPrefix("error"))
    }

    @Test(
        "under '/': this host's PCI devices",
        .enabled(if: ((try? FileManager.default.contentsOfDirectory(atPath: "/sys/bus/pci/devices")) ?? []).count > 0))
    func thisHost() throws {
        let sysfs = RealSysfs()
        for address in try sysfs.list(SysPath.pciDevices).prefix(4) {
            Self.expectSame(sysfs, SysPath.pci(address), ["class", "vendor", "numa_node", "absent", "driver"])
        }
    }

    @Test("plain names: what a split into components refuses, the byte scan refuses")
    func plainNames() {
        func split(_ name: String) -> Bool {
            name.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).allSatisfy { part in
                !part.isEmpty && !part.contains(0) && !part.elementsEqual(".".utf8) && !part.elementsEqual("..".utf8)
            }
        }
        let parts = ["", ".", "..", "...", "a", "a.", ".a", "..a", "é", "a\0b", "nvidia-224", "devices"]
        var names = parts
        for first in parts { for second in parts { names += ["\(first)/\(second)", "/\(first)", "\(first)/"] } }
        names += ["a//b", "a/b/c", "a/./b", "a/../b", "a/b/..", "a/b/...", "./a", "../a", "////"]
        for name in names { #expect(RealSysfs.isPlain(name) == split(name), "\(name.debugDescription)") }
    }

    @Test("the simulated kernel counts one read per attribute, as before")
    func simulatedReads() throws {
        let kernel = SimulatedKernel(model: try #require(SimulatedProfiles.make("nvidia-t4")))
        let before = kernel.counters.reads
        _ = try kernel.values(in: SysPath.pci("0000:3b:00.0"), ["class", "vendor", "device"])
        #expect(kernel.counters.reads - before == 3)
    }
}
