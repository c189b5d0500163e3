import ForbcTestSupport
import Foundation
import Testing

@testable import ForbcCore

/// The real MPS side against a stand-in control program (Tests/Fixtures/mps) that keeps the protocol: the daemon's
/// pid file and control entry in its pipe directory, one command per run on standard input.
@Suite("real MPS side")
struct RealMPSTests {
    let uuid = "GPU-0ac371be-ac08-bc04-b91a-57647d64c496"

    @Test("a daemon that quit but was not reaped (a zombie) is gone; so is one the control program cannot find")
    func unreapedAndUnanswered() throws {
        // What the H100 machine showed: after 'quit' the daemon stayed a zombie (its PID 1 does not reap), its pid
        // file and control entry in place, and the control program answered "Cannot find MPS control daemon
        // process"; discovery threw that instead of reporting the daemon gone.
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/true"), nil]
        defer { for argument in argv { free(argument) } }
        #expect(posix_spawn(&pid, "/bin/true", nil, nil, argv, nil) == 0)
        Thread.sleep(forTimeInterval: 0.3)
        #expect(!RealMPS.alive(Int(pid)))
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        #expect(RealMPS.alive(Int(getpid())))

        let directory = makeTemporaryDirectory("real-mps-gone")
        let mps = RealMPS(directory: directory, program: RepositoryPaths.fixture("mps/nvidia-cuda-mps-control"))
        let pipe = mps.pipeDirectory(gpu: uuid)
        try FileManager.default.createDirectory(atPath: pipe, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: pipe + "/control", contents: nil)
        // No pid file: forbc asks, and the control program says no daemon runs.
        #expect(try mps.daemon(gpu: uuid) == nil)
    }

    @Test("'-d' starts in a process group of its own: a Ctrl-C at forbc's terminal does not reach the daemon")
    func daemonOwnGroup() throws {
        let directory = makeTemporaryDirectory("real-mps-group")
        let program = directory.appendingPathComponent("group-control")
        let seen = directory.appendingPathComponent("pgrp").path
        let standIn = RepositoryPaths.fixture("mps/nvidia-cuda-mps-control")
        // Writes its "PID PGRP" (from /proc/PID/stat), then is the stand-in.
        try "#!/bin/sh\nawk '{print $1, $5}' /proc/$$/stat > \(seen)\nexec \(standIn) \"$@\"\n".write(
            to: program, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: program.path)
        let mps = RealMPS(directory: directory, program: program.path)
        try mps.start(gpu: uuid)
        defer { try? mps.quit(gpu: uuid) }
        let fields = try String(contentsOfFile: seen, encoding: .utf8).split(whereSeparator: \.isWhitespace)
            .compactMap { Int32($0) }
        #expect(fields.count == 2 && fields[0] == fields[1], "\(fields)")
        #expect(fields.last != getpgrp(), "'-d' ran in the test's (forbc's) process group")
    }

    @Test("a control command that does not end is stopped at the deadline and is an error that says so")
    func hungControlProgram() throws {
        let directory = makeTemporaryDirectory("real-mps-hung")
        let program = directory.appendingPathComponent("hung-control")
        try "#!/bin/sh\nexec sleep 60\n".write(to: program, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: program.path)
        let mps = RealMPS(directory: directory, program: program.path, timeout: 1)
        let started = Date()
        #expect {
            try mps.configure(gpu: uuid, MPSSettings(activeThreadPercentage: 50))
        } throws: { error in
            (error as? ForbcError)?.message.contains("did not answer within 1 s") == true
        }
        #expect(Date().timeIntervalSince(started) < 10)
    }

    @Test("start, set, read back, a daemon killed is gone, start again, quit")
    func lifecycle() throws {
        let directory = makeTemporaryDirectory("real-mps")
        let mps = RealMPS(directory: directory, program: RepositoryPaths.fixture("mps/nvidia-cuda-mps-control"))
        let pipe = directory.path + "/\(uuid)/pipe"
        #expect(mps.pipeDirectory(gpu: uuid) == pipe)
        #expect(try mps.daemon(gpu: uuid) == nil)
        try mps.start(gpu: uuid)
        let started = try #require(try mps.daemon(gpu: uuid))
        defer { if let pid = try? mps.daemon(gpu: uuid)?.pid { kill(pid_t(pid), SIGKILL) } }
        #expect(started.settings == MPSSettings(activeThreadPercentage: 100))
        // The daemon inherits none of forbc's descriptors (a held host lock would outlive the command).
        let inherited = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(try #require(started.pid))/fd")
        #expect(inherited.compactMap(Int.init).allSatisfy { $0 <= 2 }, "\(inherited)")
        let log = try String(contentsOfFile: directory.path + "/\(uuid)/log/control.log", encoding: .utf8)
        #expect(log == "CUDA_VISIBLE_DEVICES=\(uuid)\n")
        #expect(throws: ForbcError.self) { try mps.start(gpu: uuid) }

        try mps.configure(gpu: uuid, MPSSettings(activeThreadPercentage: 14, pinnedMemoryLimit: "10G"))
        let set = try #require(try mps.daemon(gpu: uuid))
        #expect(set.settings == MPSSettings(activeThreadPercentage: 14, pinnedMemoryLimit: "10G"))

        // Killed: the control entry stays, its process does not; that is no daemon.
        let pid = try #require(set.pid)
        kill(pid_t(pid), SIGKILL)
        var status: Int32 = 0
        for _ in 0..<50 where kill(pid_t(pid), 0) == 0 {
            _ = waitpid(pid_t(pid), &status, WNOHANG)
            Thread.sleep(forTimeInterval: 0.05)
        }
        #expect(try mps.daemon(gpu: uuid) == nil)
        try mps.start(gpu: uuid)
        let again = try #require(try mps.daemon(gpu: uuid))
        #expect(again.pid != pid)
        try mps.quit(gpu: uuid)
        #expect(try mps.daemon(gpu: uuid) == nil)
        #expect(throws: ForbcError.self) { try mps.quit(gpu: uuid) }
    }

    @Test("a link in place of a GPU's folder in the state dir is refused; nothing is made where it points")
    func linkedFolder() throws {
        let directory = makeTemporaryDirectory("real-mps")
        let elsewhere = makeTemporaryDirectory("elsewhere")
        let link = directory.appendingPathComponent(uuid).path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: elsewhere.path)
        let mps = RealMPS(directory: directory, program: RepositoryPaths.fixture("mps/nvidia-cuda-mps-control"))
        #expect(throws: StateDirFile.linkError(link)) { try mps.start(gpu: uuid) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: elsewhere.path).isEmpty)
    }

    @Test("a missing control program is an error that names it")
    func missingProgram() {
        let mps = RealMPS(
            directory: makeTemporaryDirectory("real-mps"), program: "/nonexistent/nvidia-cuda-mps-control")
        #expect(throws: ForbcError.self) { try mps.start(gpu: uuid) }
    }
}
