import ForbcCore
import ForbcTestSupport
import Foundation
import Testing

@testable import ForbcCore

/// A FIFO, a device or a huge file where forbc reads a sysfs attribute (under '--root') or a file a user named: a
/// located error at once, never a read that blocks (a FIFO without a writer blocks open(2) for ever) or never ends.
/// A call that would block runs under `finishing(within:)`, so that a regression fails instead of hanging the suite.
@Suite("bounded reads: sysfs attributes under a root")
struct BoundedSysfsTests {
    static let device = "/sys/bus/pci/devices/0000:10:00.0"

    /// A root holding one device directory with a regular `vendor`, `create` and `description`, and a `types`
    /// folder; `poison` runs on the device directory on disk.
    static func tree(_ poison: (String) throws -> Void = { _ in }) throws -> URL {
        let root = makeTemporaryDirectory("bounded-sysfs")
        let directory = root.path + device
        try FileManager.default.createDirectory(atPath: directory + "/types", withIntermediateDirectories: true)
        for name in ["vendor", "create", "description"] {
            try Data("0x10de\n".utf8).write(to: URL(fileURLWithPath: "\(directory)/\(name)"))
        }
        try poison(directory)
        return root
    }

    /// Replaces the file at `path` by a FIFO.
    static func fifo(_ path: String) throws {
        try? FileManager.default.removeItem(atPath: path)
        #expect(mkfifo(path, 0o644) == 0)
    }

    @Test("a FIFO where an attribute must be: refused by read and by values, naming what it is, without blocking")
    func fifoRead() throws {
        let root = try Self.tree { try Self.fifo($0 + "/vendor") }
        defer { try? FileManager.default.removeItem(at: root) }
        let sysfs = RealSysfs(root: root.path)
        let expected = "refusing '\(Self.device)/vendor': it is a FIFO; a sysfs attribute is a regular file"
        #expect(failureMessage(finishing(within: 10) { try sysfs.read(Self.device + "/vendor") }) == expected)
        let batch = finishing(within: 10) { try sysfs.values(in: Self.device, ["description", "vendor"]) }
        #expect(failureMessage(batch) == expected)
        // The regular attribute beside it reads as before.
        #expect(try sysfs.values(in: Self.device, ["description"]) == ["0x10de"])
    }

    @Test("a FIFO where a written attribute must be: refused with or without a reader, never blocking the open")
    func fifoWrite() throws {
        let root = try Self.tree { try Self.fifo($0 + "/create") }
        defer { try? FileManager.default.removeItem(at: root) }
        let sysfs = RealSysfs(root: root.path)
        let expected = "refusing '\(Self.device)/create': it is a FIFO; a sysfs attribute is a regular file"
        // No reader: open(2) without O_NONBLOCK would wait for one for ever (ignoring SIGTERM under apply).
        #expect(failureMessage(finishing(within: 10) { try sysfs.write(Self.device + "/create", "x") }) == expected)
        // A reader holds it: the open succeeds, and the file's type refuses it.
        let reader = open(root.path + Self.device + "/create", O_RDONLY | O_NONBLOCK)
        #expect(reader >= 0)
        defer { close(reader) }
        #expect(failureMessage(finishing(within: 10) { try sysfs.write(Self.device + "/create", "x") }) == expected)
    }

    @Test("a character device where an attribute must be is refused, not read")
    func device() throws {
        // Under "/" the kernel's own paths are opened as they are: /dev/null stands for a device in a tree.
        let error = try #require(throws: ForbcError.self) { try RealSysfs().read("/dev/null") }
        #expect(error.message == "refusing '/dev/null': it is a character device; a sysfs attribute is a regular file")
        #expect(error.path == "/dev/null" && error.code == .invalidInput)
    }

    @Test("a file over 1 MiB where an attribute must be is refused by its size, by read and by values")
    func huge() throws {
        let root = try Self.tree { directory in
            // Sparse: 2 MiB that no disk holds; read whole, it would be 2 MiB of NULs in memory.
            #expect(truncate(directory + "/description", 2 << 20) == 0)
        }
        defer { try? FileManager.default.removeItem(at: root) }
        let sysfs = RealSysfs(root: root.path)
        let expected =
            "refusing '\(Self.device)/description': it is over 1 MiB; not a sysfs attribute (one holds at most a "
            + "page, a binary one a few)"
        #expect(failureMessage(Result { try sysfs.read(Self.device + "/description") }) == expected)
        #expect(failureMessage(Result { try sysfs.values(in: Self.device, ["description"]) }) == expected)
        // A page, or a binary attribute's few, read as before.
        #expect(truncate(root.path + Self.device + "/description", 64 << 10) == 0)
        #expect(try sysfs.read(Self.device + "/description").utf8.count == 64 << 10)
    }

    @Test("a FIFO where a directory must be is not a directory (ENOTDIR) at once, for list and listings")
    func fifoListing() throws {
        let root = try Self.tree { try Self.fifo($0 + "/types") }
        defer { try? FileManager.default.removeItem(at: root) }
        let sysfs = RealSysfs(root: root.path)
        let listed = finishing(within: 10) { try sysfs.list(Self.device + "/types") }
        #expect(failureMessage(listed) == "listing \(Self.device)/types failed: not a directory (ENOTDIR)")
        let batch = finishing(within: 10) { try sysfs.listings(in: Self.device, ["types"]) }
        #expect(failureMessage(batch) == "listing \(Self.device)/types failed: not a directory (ENOTDIR)")
    }
}

@Suite("bounded reads: files users name and the state dir's")
struct BoundedFileTests {
    @Test("BoundedFile refuses a FIFO, a device, a directory and a file over its limit, naming the path")
    func refusals() throws {
        let folder = makeTemporaryDirectory("bounded-file")
        defer { try? FileManager.default.removeItem(at: folder) }
        let fifo = folder.path + "/f"
        #expect(mkfifo(fifo, 0o644) == 0)
        func message(_ path: String, limit: Int = 1 << 20, _ streams: BoundedFile.Streams = .refused) -> String {
            failureMessage(
                finishing(within: 10) { try BoundedFile.read(path, limit: limit, what: "a X", streams: streams) })
        }
        #expect(message(fifo) == "refusing '\(fifo)': it is a FIFO; a X is read from a regular file only")
        #expect(
            message("/dev/null")
                == "refusing '/dev/null': it is a character device; a X is read from a regular file only")
        #expect(
            message(folder.path) == "refusing '\(folder.path)': it is a directory; a X is read from a regular file only"
        )
        let big = folder.path + "/big"
        #expect(FileManager.default.createFile(atPath: big, contents: nil) && truncate(big, 3 << 20) == 0)
        #expect(message(big) == "refusing '\(big)': it is 3145728 bytes; a X may hold at most 1 MiB")
        #expect(message("/dev/zero", .read) == "refusing '/dev/zero': it gave over 1 MiB; a X may hold at most 1 MiB")
        #expect(
            message(folder.path + "/none") == "reading \(folder.path)/none failed: no such file or directory (ENOENT)")
        #expect(try BoundedFile.readIfPresent(folder.path + "/none", limit: 1, what: "a X") == nil)
        // Within the limit, and streams where they are allowed, read whole.
        #expect(truncate(big, 1 << 20) == 0)
        #expect(try BoundedFile.read(big, limit: 1 << 20, what: "a X").count == 1 << 20)
        #expect(try BoundedFile.read("/dev/null", limit: 1, what: "a X", streams: .read).isEmpty)
    }

    @Test("a campaign's topology manifest that is a FIFO: a diagnostic at once, not a read that waits for a writer")
    func topologyFIFO() throws {
        let folder = makeTemporaryDirectory("bounded-campaign")
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(mkfifo(folder.path + "/t.yaml", 0o644) == 0)
        let text = """
            apiVersion: forbc/v1
            kind: Campaign
            metadata: {name: c}
            spec:
              topologies: [{name: a, manifest: t.yaml}]
              suites: [{suite: s, on: [gpu], workloads: [cpu-gemm]}]
            """
        let parsed = finishing(within: 10) { try CampaignParser.parse(text: text, file: folder.path + "/c.yaml") }
        let found = failureMessage(parsed).replacingOccurrences(of: folder.path + "/", with: "")
        #expect(found.contains("t.yaml:1:1: error: 't.yaml' is a FIFO; a manifest is read from a regular file only"))
        #expect(found.contains("c.yaml:5:36: error: 'spec.topologies[0].manifest': 't.yaml' is not a valid Host"))
    }

    @Test("a manifest from a pipe is read only where streams are allowed (a file named on the command line)")
    func manifestStreams() throws {
        let pipe = Pipe()
        let path = "/dev/fd/\(pipe.fileHandleForReading.fileDescriptor)"
        let refused = finishing(within: 10) { try ManifestParser.parse(contentsOf: path) }
        #expect(
            failureMessage(refused)
                == "\(path):1:1: error: '\(path)' is a FIFO; a manifest is read from a regular file only")
        try pipe.fileHandleForWriting.write(
            contentsOf: Data("apiVersion: forbc/v1\nkind: Host\nmetadata: {name: n}\nspec: {}\n".utf8))
        try pipe.fileHandleForWriting.close()
        #expect(try ManifestParser.parse(contentsOf: path, streams: .read).name == "n")
    }

    @Test("the state dir: a FIFO state.json or journal is named as a FIFO; a folder that cannot be made, with errno")
    func stateDir() throws {
        let folder = makeTemporaryDirectory("bounded-state")
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = StateStore(directory: folder)
        #expect(mkfifo(store.stateURL.path, 0o644) == 0)
        #expect(
            failureMessage(finishing(within: 10) { try store.load() })
                == "refusing '\(store.stateURL.path)': it is a FIFO; the state snapshot is read from a regular file "
                + "only; move it aside to start from an empty record")
        try FileManager.default.removeItem(at: store.stateURL)
        #expect(mkfifo(store.journalURL.path, 0o644) == 0)
        #expect(
            failureMessage(finishing(within: 10) { try store.load() })
                == "refusing '\(store.journalURL.path)': it is a FIFO; a journal is read from a regular file only")
        // A file where the state dir (or a folder above it) must be: the folder, what it is, the errno.
        let file = folder.appendingPathComponent("file")
        #expect(FileManager.default.createFile(atPath: file.path, contents: nil))
        let error = try #require(throws: ForbcError.self) {
            try StateStore(directory: file.appendingPathComponent("state")).ensureDirectory()
        }
        #expect(
            error.message == "creating the state dir's folder \(file.path) failed: it is a regular file; pass "
                + "'--state-dir' to choose another")
        #expect(error.errno == Errno.ENOTDIR && error.path == file.path)
        // What mkdir(2) says, in errno's words (not Foundation's sentence).
        let proc = try #require(throws: ForbcError.self) {
            try StateStore(directory: URL(fileURLWithPath: "/proc/forbc-state")).ensureDirectory()
        }
        #expect(
            proc.message.hasPrefix(
                "creating the state dir /proc/forbc-state failed: no such file or directory (ENOENT)"))
    }
}
