import ForbcBench
import ForbcCore
import ForbcLibvirt
import ForbcTestSupport
import Foundation
import Testing

/// Against a real guest: the domain FORBC_AGENT_DOMAIN, booted by the real libvirtd (qemu:///system, TCG) with the
/// QEMU guest agent inside, this machine's root shared read-only (Tests/VM/guest). The README's test command starts
/// it and sets the variable; without it this suite says it is skipped.
@Suite(
    "the guest agent of a real guest, through libvirt (Tests/VM/guest)",
    .serialized,
    .enabled(
        if: ProcessInfo.processInfo.environment["FORBC_AGENT_DOMAIN"] != nil,
        "FORBC_AGENT_DOMAIN is not set: run the README's test command (bash .ci/test), which boots the guest"))
struct RealGuestTests {
    let uri = ProcessInfo.processInfo.environment["FORBC_LIBVIRTD_URI"] ?? "qemu:///system"
    let domain = ProcessInfo.processInfo.environment["FORBC_AGENT_DOMAIN"] ?? "forbc-agent-guest"

    func exec(_ arguments: [String], environment: [String: String] = [:], timeout: Double = 60) throws -> GuestExit {
        try LibvirtConnection(uri: uri).exec(domain: domain, arguments, environment: environment, timeout: timeout)
    }

    @Test("a program runs in the guest: its kernel is the one libvirt booted, not this machine's")
    func unameInGuest() throws {
        let connection = try LibvirtConnection(uri: uri)
        let xml = try connection.domain(named: domain).persistentXML
        let kernel = try #require(xml.firstMatch(of: /<kernel>[^<]*vmlinuz-([^<]+)<\/kernel>/)).1
        let exit = try exec(["uname", "-rn"])
        #expect(exit.exitCode == 0)
        #expect(exit.stdout == "\(domain) \(kernel)\n")
        var host = utsname()
        uname(&host)
        let hostRelease = withUnsafeBytes(of: host.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let hostName = withUnsafeBytes(of: host.nodename) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        #expect(exit.stdout != "\(hostName) \(hostRelease)\n")
    }

    @Test("variables are added to the agent's environment, which keeps its PATH; the exit status comes back")
    func environmentAndStatus() throws {
        let exit = try exec(
            ["sh", "-c", "echo \"$FORBC_PROBE|$PATH\"; echo oops >&2; exit 3"], environment: ["FORBC_PROBE": "x y"])
        #expect(exit.exitCode == 3)
        #expect(exit.stdout.hasPrefix("x y|/"))
        #expect(exit.stdout.contains("/usr/bin"))
        #expect(exit.stderr == "oops\n")
    }

    @Test("a program that does not exist: the agent's words")
    func missingProgram() throws {
        do {
            let exit = try exec(["/nonexistent/forbc-no-such-program", "--flag"])
            Issue.record("ran a program that does not exist: \(exit)")
        } catch let error as ForbcError {
            #expect(error.message.hasPrefix("libvirt: virDomainQemuAgentCommand('\(domain)', guest-exec) failed: "))
            #expect(
                error.message.contains(
                    "Failed to execute child process “/nonexistent/forbc-no-such-program” "
                        + "(No such file or directory)"),
                "\(error.message)")
        }
    }

    @Test("a command past its timeout ends the wait as timed out, and is killed in the guest")
    func timeout() throws {
        let started = Date()
        let exit = try exec(["sleep", "97"], timeout: 2)
        #expect(exit.timedOut)
        #expect(Date().timeIntervalSince(started) < 15)
        var alive = true
        for _ in 0..<20 where alive {
            alive = try exec(["pgrep", "-x", "-f", "sleep 97"]).exitCode == 0
            if alive { Thread.sleep(forTimeInterval: 0.5) }
        }
        #expect(!alive, "'sleep 97' still runs in the guest")
    }

    @Test("a file written through the agent (several guest-file-write chunks) reads back the same with cat")
    func writeThenRead() throws {
        let path = "/tmp/forbc-agent-\(UUID().uuidString.prefix(8)).txt"
        let text = (0..<4000).map { "line \($0): ünïcode and bytes\n" }.joined()
        #expect(text.utf8.count > 100_000)
        try LibvirtConnection(uri: uri).writeFile(domain: domain, path: path, contents: Data(text.utf8))
        let exit = try exec(["cat", path])
        #expect(exit.exitCode == 0)
        #expect(exit.stdout == text)
        _ = try exec(["rm", "-f", path])
    }

    /// A repository profile with a small `--size` (its script takes one): TCG runs numpy about 100 times slower.
    static func profile(_ name: String, size: Int) throws -> WorkloadProfile {
        var profile = try WorkloadProfile.load(
            RepositoryPaths.root.appendingPathComponent("Manifests/workloads/\(name).yaml").path)
        profile.run += ["--size", String(size)]
        return profile
    }

    @Test(
        "the cpu workloads run in the guest through forbc's runner and give values",
        arguments: [("cpu-gemm", 256, ["gflops"]), ("cpu-stream", 1_000_000, ["copy", "triad"])])
    func workload(name: String, size: Int, metrics: [String]) throws {
        let profile = try Self.profile(name, size: size)
        let log = makeTemporaryDirectory("guest-\(name)").appendingPathComponent("run.log")
        let runner = WorkloadRunner(processes: GuestProcesses(agent: try LibvirtConnection(uri: uri), domain: domain))
        // The repository is in the guest at the same path: it sees this machine's root.
        let outcome = runner.run(
            profile, directory: RepositoryPaths.root.appendingPathComponent("Manifests/workloads").path,
            environment: [:], repetitions: 2, warmups: 1, startAt: 0, log: log)
        #expect(
            outcome.failure == nil, "\(outcome.failure ?? ""): \((try? String(contentsOf: log, encoding: .utf8)) ?? "")"
        )
        for metric in metrics {
            let values = outcome.values[metric] ?? []
            #expect(values.count == 2, "\(metric): \(values)")
            #expect(values.allSatisfy { $0 > 0 && $0.isFinite }, "\(metric): \(values)")
        }
        print("\(name) in '\(domain)': \(outcome.values) in \(String(format: "%.1f", outcome.seconds)) s")
    }

    /// A second domain with nothing to boot, so no agent will ever answer: with the agent's channel, or without.
    static func silentXML(_ name: String, channel: Bool) -> String {
        """
        <domain type='qemu'>
          <name>\(name)</name>
          <memory unit='MiB'>64</memory>
          <vcpu>1</vcpu>
          <os><type arch='x86_64' machine='q35'>hvm</type></os>
          <devices>
            \(channel ? "<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>" : "")
            <memballoon model='none'/>
          </devices>
        </domain>
        """
    }

    /// `virsh -c URI ARGUMENTS…`, for what forbc's connection does not do (start, destroy): its exit status.
    @discardableResult
    func virsh(_ arguments: String...) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["virsh", "-q", "-c", uri] + arguments
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// A workload run in `domain` through forbc's runner: its failure.
    func failure(in domain: String) throws -> String? {
        let log = makeTemporaryDirectory("guest-silent").appendingPathComponent("run.log")
        let runner = WorkloadRunner(processes: GuestProcesses(agent: try LibvirtConnection(uri: uri), domain: domain))
        let outcome = runner.run(
            try Self.profile("cpu-gemm", size: 64), directory: "/nonexistent", environment: [:], repetitions: 1,
            warmups: 0, startAt: 0, log: log)
        #expect(outcome.values.isEmpty)
        return outcome.failure
    }

    @Test(
        "a domain shut off, running with no agent, or with no channel: each a recorded failure in libvirt's words",
        arguments: [
            (true, "Guest agent is not responding: QEMU guest agent is not connected"),
            (false, "argument unsupported: QEMU guest agent is not configured"),
        ])
    func unreachable(channel: Bool, words: String) throws {
        let admin = try LibvirtConnection(uri: uri)
        let silent = "\(domain)-\(channel ? "silent" : "nochannel")"
        if (try? admin.domain(named: silent)) != nil {
            try virsh("destroy", silent)
            try admin.undefine(silent)
        }
        try admin.define(Self.silentXML(silent, channel: channel))
        defer {
            _ = try? virsh("destroy", silent)
            try? admin.undefine(silent)
        }
        let call = "in domain '\(silent)': libvirt: virDomainQemuAgentCommand('\(silent)', guest-exec) failed: "
        #expect(try failure(in: silent) == call + "Requested operation is not valid: domain is not running")
        #expect(try virsh("start", silent) == 0)
        #expect(try failure(in: silent) == call + words)
        #expect(throws: ForbcError.self) {
            try admin.writeFile(domain: silent, path: "/tmp/x", contents: Data("x".utf8))
        }
    }
}
