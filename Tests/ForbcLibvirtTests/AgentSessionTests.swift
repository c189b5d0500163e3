import ForbcCore
import Foundation
import Synchronization
import Testing

@testable import ForbcLibvirt

/// A guest agent behind a fake `virDomainQemuAgentCommand`, on a simulated clock (nothing sleeps): it answers
/// `guest-exec` with pid 42, `guest-exec-status` with "still running", the file commands with handle 7 and no
/// data; from the moment a domain is `silenced` each command to it fails as libvirt's timeout does, once its
/// timeout has passed on the clock.
final class FakeAgent: Sendable {
    struct State {
        var clock = Date(timeIntervalSince1970: 0)
        var calls: [(domain: String, execute: String, timeout: Int32)] = []
        var silent: Set<String> = []
        /// Commands after which a domain goes silent ("guest-exec-status": once the program has been polled).
        var silenceAfter: [String: (execute: String, answers: Int)] = [:]
        /// A close refused at once this many times.
        var refusedCloses = 0
        /// Any command refused at once this many times (qemu-ga restarting).
        var refusedAny = 0
    }

    let state = Mutex(State())
    let health = AgentHealth()

    var session: GuestAgentSession {
        var session = GuestAgentSession(send: { try self.send($0, $1, $2, $3) }, health: health)
        session.sleep = { seconds in self.state.withLock { $0.clock += seconds } }
        session.now = { self.state.withLock { $0.clock } }
        return session
    }

    var calls: [(domain: String, execute: String, timeout: Int32)] { state.withLock { $0.calls } }
    var clock: Date { state.withLock { $0.clock } }

    func silence(_ domain: String) { state.withLock { _ = $0.silent.insert(domain) } }

    func send(_ domain: String, _ execute: String, _ arguments: [String: Any], _ timeout: Int32) throws -> Any {
        try state.withLock { state in
            state.calls.append((domain, execute, timeout))
            if state.silent.contains(domain) {
                state.clock += Double(timeout)
                throw ForbcError(
                    .hypervisor,
                    "libvirt: virDomainQemuAgentCommand('\(domain)', \(execute)) failed: Guest agent is not "
                        + "responding: Guest agent not available for now")
            }
            if (execute == "guest-file-close" && state.refusedCloses > 0) || state.refusedAny > 0 {
                if state.refusedAny > 0 { state.refusedAny -= 1 } else { state.refusedCloses -= 1 }
                throw ForbcError(
                    .hypervisor,
                    "libvirt: virDomainQemuAgentCommand('\(domain)', \(execute)) failed: Guest agent is not "
                        + "responding: QEMU guest agent is not connected")
            }
            state.clock += 0.01
            if let after = state.silenceAfter[domain], after.execute == execute {
                state.silenceAfter[domain]?.answers -= 1
                if after.answers <= 1 { state.silent.insert(domain) }
            }
            switch execute {
            case "guest-exec": return ["pid": 42]
            case "guest-exec-status": return ["exited": false]
            case "guest-file-open": return 7
            case "guest-file-read": return ["buf-b64": "", "eof": true]
            default: return [String: Any]()
            }
        }
    }
}

/// The guest-agent commands when an agent stops answering: each later command waits a few seconds at most, the
/// program it was running fails at once with where and libvirt's words, and nothing is tried again that waited.
@Suite("guest-agent commands when the agent stops answering")
struct AgentSessionTests {
    @Test("a program whose agent stops answering fails after two more short polls, saying where and why")
    func execStopsAnswering() throws {
        let agent = FakeAgent()
        // The third poll of the running program is the first that goes unanswered.
        agent.state.withLock { $0.silenceAfter["guest"] = ("guest-exec-status", 2) }
        let error = try #require(throws: ForbcError.self) {
            try agent.session.exec(domain: "guest", ["python3", "gemm.py"], environment: [:], timeout: 600)
        }
        #expect(error.message.contains("the guest agent of 'guest' stopped answering while 'python3' (pid 42) ran"))
        #expect(error.message.contains("3 polls unanswered"))
        #expect(
            error.message.contains(
                "libvirt: virDomainQemuAgentCommand('guest', guest-exec-status) failed: Guest agent is not responding: "
                    + "Guest agent not available for now (after 5.0 s; timeout 5 s)"), "\(error.message)")
        // Two polls answered, the third not (30 s), then two more of 5 s each; no kill (it would not be answered).
        #expect(agent.calls.map(\.execute) == ["guest-exec"] + Array(repeating: "guest-exec-status", count: 5))
        #expect(agent.calls.map(\.timeout) == [30, 30, 30, 30, 5, 5])
        #expect(agent.clock.timeIntervalSince1970 < 60, "the program's own deadline (600 s) is not waited out")
        #expect(agent.health.notAnswering("guest")?.contains("not available for now") == true)
    }

    @Test("a program past its deadline is killed with a short command")
    func execDeadline() throws {
        let agent = FakeAgent()
        let exit = try agent.session.exec(domain: "guest", ["sleep", "600"], environment: [:], timeout: 1)
        #expect(exit.timedOut)
        let kill = try #require(agent.calls.last)
        #expect(kill.execute == "guest-exec" && kill.timeout == 5)
        #expect(agent.calls.dropLast().allSatisfy { $0.timeout == 5 }, "a 1-s program's commands get 5 s")
    }

    @Test("a read that goes unanswered: one close of 5 s, 5 s for every later command there, 30 s elsewhere")
    func readStopsAnswering() throws {
        let agent = FakeAgent()
        agent.state.withLock { $0.silenceAfter["guest"] = ("guest-file-open", 1) }
        let session = agent.session
        let error = try #require(throws: ForbcError.self) {
            try session.locating("/tmp/forbc/ready") { try session.readFile(domain: "guest", path: "/tmp/forbc/ready") }
        }
        #expect(error.message.contains("virDomainQemuAgentCommand('guest', guest-file-read) failed"))
        #expect(
            error.message.contains("not available for now (after 30.0 s; timeout 30 s) (file '/tmp/forbc/ready')"),
            "\(error.message)")
        #expect(agent.calls.map(\.execute) == ["guest-file-open", "guest-file-read", "guest-file-close"])
        #expect(agent.calls.map(\.timeout) == [30, 30, 5])
        #expect(agent.clock.timeIntervalSince1970 < 36)
        // Later commands to that guest wait 5 s; another guest's 30 s.
        #expect(throws: ForbcError.self) {
            try agent.session.writeFile(domain: "guest", path: "/tmp/go", contents: Data())
        }
        _ = try agent.session.readFile(domain: "other", path: "/tmp/ready")
        #expect(
            agent.calls[3...].map { "\($0.domain) \($0.execute) \($0.timeout)" } == [
                "guest guest-file-open 5", "other guest-file-open 30", "other guest-file-read 30",
                "other guest-file-close 5",
            ])
        // Once it answers again, 30 s.
        agent.state.withLock {
            $0.silent = []
            $0.silenceAfter = [:]
        }
        _ = try agent.session.readFile(domain: "guest", path: "/tmp/ready")
        _ = try agent.session.readFile(domain: "guest", path: "/tmp/ready")
        #expect(agent.calls.suffix(3).map(\.timeout) == [30, 30, 5])
        #expect(agent.health.notAnswering("guest") == nil)
    }

    @Test("a full-length command refused at once (qemu-ga restarting) does not mark the domain as not answering")
    func refusalAtOnce() throws {
        let agent = FakeAgent()
        agent.state.withLock { $0.refusedAny = 1 }
        #expect(throws: ForbcError.self) { _ = try agent.session.readFile(domain: "guest", path: "/tmp/ready") }
        #expect(agent.calls.first?.timeout == 30)
        #expect(agent.health.notAnswering("guest") == nil)
        _ = try agent.session.readFile(domain: "guest", path: "/tmp/ready")
        #expect(agent.calls.filter { $0.execute == "guest-file-open" }.map(\.timeout) == [30, 30])
    }

    @Test("a close refused at once is tried again; one that waited is not")
    func closeRetries() throws {
        let agent = FakeAgent()
        agent.state.withLock { $0.refusedCloses = 2 }
        try agent.session.writeFile(domain: "guest", path: "/tmp/go", contents: Data("1\n".utf8))
        #expect(agent.calls.filter { $0.execute == "guest-file-close" }.count == 3)
        agent.silence("guest")
        agent.session.closeFile("guest", 7)
        #expect(agent.calls.last?.execute == "guest-file-close" && agent.calls.count == 6)
        // A short command that ran out does not mark the guest (a slow guest's real work keeps its 30 s).
        #expect(agent.health.notAnswering("guest") == nil)
    }

    @Test(
        "libvirt's words for an agent that did not answer, and for one that answered with an error",
        arguments: [
            ("Guest agent is not responding: Guest agent not available for now", true),
            ("Guest agent is not responding: QEMU guest agent is not connected", true),
            (
                "Timed out during operation: cannot acquire state change lock (held by agent=remoteDispatchDomainQemu"
                    + "AgentCommand)", true
            ),
            ("Guest agent is not responding: Guest agent disappeared while executing command", true),
            (
                "internal error: unable to execute QEMU agent command 'guest-file-open': failed to open file '/x' "
                    + "(mode: 'r'): No such file or directory", false
            ),
            ("Requested operation is not valid: domain is not running", false),
        ])
    func words(message: String, silent: Bool) {
        #expect(
            AgentHealth.saysNotAnswering("libvirt: virDomainQemuAgentCommand('g', guest-exec) failed: " + message)
                == silent)
    }
}
