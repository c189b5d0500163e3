import ForbcCore
import ForbcTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The journal's torn last line, links planted in the state dir, and output paths that are not regular files.
@Suite("state dir files and output files")
struct StateDirFileTests {
    func fileType(_ path: String) -> mode_t {
        var status = stat()
        return lstat(path, &status) == 0 ? status.st_mode & S_IFMT : 0
    }

    func text(_ path: String) -> String? { try? String(contentsOfFile: path, encoding: .utf8) }

    @Test("an append after a torn last line starts on a line of its own: nothing before it is lost")
    func tornTailCut() throws {
        let url = makeTemporaryDirectory("torn").appendingPathComponent("state.journal")
        let journal = JournalFile(url: url)
        try journal.append([StateChange.host("a"), .host("b")])
        let handle = try FileHandle(forWritingTo: url)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(#"{"record":{"address":"0000:3b"#.utf8))  // as a kill or ENOSPC leaves it
        try handle.close()
        #expect(try journal.entries(StateChange.self) == [.host("a"), .host("b")])
        let before = journal.size
        let grown = try journal.append([StateChange.host("c")])
        #expect(journal.size == before + grown, "the growth counts the bytes cut")
        #expect(try journal.entries(StateChange.self) == [.host("a"), .host("b"), .host("c")])
        #expect(text(url.path)?.hasSuffix("\n{\"host\":{\"_0\":\"c\"}}\n") == true, "\(text(url.path) ?? "")")
    }

    @Test("a journal of one torn line is emptied by the next append; an entry without its newline never counts")
    func tornOnly() throws {
        let url = makeTemporaryDirectory("torn").appendingPathComponent("j")
        try Data(#"{"host":{"_0":"x"}}"#.utf8).write(to: url)
        let journal = JournalFile(url: url)
        #expect(try journal.entries(StateChange.self).isEmpty, "reading and appending agree on what is complete")
        let (appended, cut) = try journal.appendCutting([StateChange.host("y")])
        #expect(cut == 19 && appended == journal.size)
        #expect(try journal.entries(StateChange.self) == [.host("y")])
        // A torn line longer than one read back from the end.
        let long = "{\"host\":{\"_0\":\"" + String(repeating: "z", count: 10_000)
        try Data(("{\"host\":{\"_0\":\"y\"}}\n" + long).utf8).write(to: url)
        #expect(try journal.appendCutting([StateChange.host("w")]).cut == long.utf8.count)
        #expect(try journal.entries(StateChange.self) == [.host("y"), .host("w")])
    }

    @Test("a bad line is named by its line in the file, blank lines counted")
    func lineNumbers() throws {
        let url = makeTemporaryDirectory("lines").appendingPathComponent("j")
        try Data("{\"host\":{\"_0\":\"a\"}}\n\nnot json\n{\"host\":{\"_0\":\"b\"}}\n".utf8).write(to: url)
        #expect {
            try JournalFile(url: url).entries(StateChange.self)
        } throws: { error in
            (error as? ForbcError)?.message.hasPrefix("line 3 of \(url.path) is not a journal entry") == true
        }
    }

    @Test("links in the state dir are refused, not followed: the lock, the journal, state.json, a temporary")
    func linksRefused() throws {
        let top = makeTemporaryDirectory("links")
        let victim = top.appendingPathComponent("v").path
        let store = StateStore(directory: top.appendingPathComponent("s"))
        try store.ensureDirectory()
        try Data("DATA\n".utf8).write(to: URL(fileURLWithPath: victim))
        let refused = { (path: String, body: () throws -> Void) in
            try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: "../v")
            #expect {
                try body()
            } throws: { error in
                (error as? ForbcError)?.message
                    == "\(path) is a symbolic link; forbc does not follow links in its state dir: remove the link "
                    + "(what it names is untouched)"
            }
            try FileManager.default.removeItem(atPath: path)
        }
        try refused(store.lockURL.path) { _ = try HostLock.acquire(at: store.lockURL) }
        try refused(store.journalURL.path) { try store.append([.host("h")]) }
        try refused(store.journalURL.path) { try JournalFile(url: store.journalURL).truncate() }
        try refused(store.journalURL.path) { _ = try store.load() }
        try refused(store.stateURL.path) { _ = try store.load() }
        try refused(store.stateURL.path) { try store.save(HostState()) }
        try refused(store.directory.appendingPathComponent("bench-logs").path) { _ = try store.folder("bench-logs") }
        #expect(text(victim) == "DATA\n")
        // A link planted under a temporary file's name is not written through: temporaries are created O_EXCL
        // (a link there is EEXIST, never followed), and a locked run removes it.
        let temporary = store.directory.appendingPathComponent(".state.json.forbc-tmp").path
        try FileManager.default.createSymbolicLink(atPath: temporary, withDestinationPath: "../v")
        #expect(throws: ForbcError.self) {
            _ = try StateDirFile.open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_TRUNC, doing: "creating")
        }
        try store.save(HostState())
        #expect(text(victim) == "DATA\n")
        #expect(fileType(store.stateURL.path) == S_IFREG)
        store.removeStaleTemporaries()
        #expect(fileType(temporary) == 0 && text(victim) == "DATA\n")
    }

    @Test("a locked command removes the temporary files of writers that are gone, not those of live ones")
    func staleTemporaries() throws {
        let store = StateStore(directory: makeTemporaryDirectory("stale"))
        let live = ".simulated-libvirt.xml.\(getpid())-abc.forbc-tmp"
        let dead = ".state.json.\(Int32.max)-abc.forbc-tmp"
        for name in [live, dead, ".state.json.forbc-tmp"] {
            try Data().write(to: store.directory.appendingPathComponent(name))
        }
        store.removeStaleTemporaries()
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.directory.path) == [live])
    }

    @Test("output to a FIFO or a link to one is written through; the node and the link stay what they were")
    func outputThroughFIFO() throws {
        let top = makeTemporaryDirectory("fifo")
        let fifo = top.appendingPathComponent("pipe").path
        let link = top.appendingPathComponent("link").path
        #expect(mkfifo(fifo, 0o600) == 0)
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "pipe")
        // Nobody reads it: an error at once, not a hang.
        #expect {
            try AtomicFile.writeOutput(Data("x".utf8), to: URL(fileURLWithPath: fifo))
        } throws: { error in
            (error as? ForbcError)?.errno == ENXIO
        }
        let reader = open(fifo, O_RDONLY | O_NONBLOCK)
        defer { close(reader) }
        try AtomicFile.writeOutput(Data("one\n".utf8), to: URL(fileURLWithPath: fifo), mode: 0o644)
        try AtomicFile.writeOutput(Data("two\n".utf8), to: URL(fileURLWithPath: link))
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = read(reader, &buffer, 64)
        #expect(String(decoding: buffer[0..<max(count, 0)], as: UTF8.self) == "one\ntwo\n")
        #expect(fileType(fifo) == S_IFIFO && fileType(link) == S_IFLNK)
        #expect(try FileManager.default.contentsOfDirectory(atPath: top.path).sorted() == ["link", "pipe"])
    }

    @Test("output to a link to a regular file replaces its target and keeps the link; a directory is an error")
    func outputThroughLinkAndDirectory() throws {
        let top = makeTemporaryDirectory("outlink")
        let target = top.appendingPathComponent("real.prom").path
        let link = top.appendingPathComponent("forbc.prom").path
        try Data("old".utf8).write(to: URL(fileURLWithPath: target))
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "real.prom")
        try AtomicFile.writeOutput(Data("new".utf8), to: URL(fileURLWithPath: link), mode: 0o644)
        #expect(fileType(link) == S_IFLNK && text(target) == "new")
        #expect {
            try AtomicFile.writeOutput(Data("x".utf8), to: top)
        } throws: { error in
            (error as? ForbcError)?.message == "\(top.path) is a directory; name a file to write"
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: top.path).sorted() == ["forbc.prom", "real.prom"])
    }

    @Test("a file made only if absent: the first writer's whole text stays, a link there is refused, no temporary left")
    func createIfAbsent() throws {
        let top = makeTemporaryDirectory("create")
        let url = top.appendingPathComponent("simulated-libvirt.xml")
        try AtomicFile.createIfAbsent(Data("first".utf8), at: url)
        try AtomicFile.createIfAbsent(Data("second".utf8), at: url)
        #expect(text(url.path) == "first")
        let link = top.appendingPathComponent("linked.xml")
        try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: url.path)
        #expect(throws: ForbcError.self) { try AtomicFile.createIfAbsent(Data("third".utf8), at: link) }
        #expect(text(url.path) == "first")
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: top.path).sorted() == [
                "linked.xml", "simulated-libvirt.xml",
            ])
    }
}
