import ForbcCore
import ForbcLibvirt
import Foundation
import Testing

/// Against the real guest (Tests/VM/guest, FORBC_AGENT_DOMAIN): its agent frozen (SIGSTOP) while a program runs,
/// as a guest whose agent stops answering is, through the real libvirtd and its own timeouts. It takes about 50 s
/// and needs the guest to itself (another suite's commands there hold libvirt's agent job, and the freeze ends
/// before forbc has seen it), so it runs only with FORBC_AGENT_FREEZE=1, alone:
/// `FORBC_AGENT_FREEZE=1 swift test --filter RealGuestSilence` with the guest booted.
@Suite(
    "a real guest whose agent stops answering (Tests/VM/guest)",
    .serialized,
    .enabled(
        if: ProcessInfo.processInfo.environment["FORBC_AGENT_DOMAIN"] != nil,
        "FORBC_AGENT_DOMAIN is not set: run the README's test command (bash .ci/test), which boots the guest"),
    .enabled(
        if: ProcessInfo.processInfo.environment["FORBC_AGENT_FREEZE"] == "1",
        "FORBC_AGENT_FREEZE is not 1: this ~50-s test freezes the guest's agent and must run alone"))
struct RealGuestSilenceTests {
    let uri = ProcessInfo.processInfo.environment["FORBC_LIBVIRTD_URI"] ?? "qemu:///system"
    let domain = ProcessInfo.processInfo.environment["FORBC_AGENT_DOMAIN"] ?? "forbc-agent-guest"

    @Test("a program whose agent is frozen fails after two more short polls in libvirt's words; then it answers again")
    func frozenAgent() throws {
        let connection = try LibvirtConnection(uri: uri)
        // A second after it starts, the program stops qemu-ga for 45 s (longer than the one 30-s poll and the two
        // 5-s ones), then lets it go on; the program itself would run 120 s (its deadline: 300 s).
        let freeze =
            "a=$(pgrep -x qemu-ga); (sleep 1; kill -STOP $a; sleep 45; kill -CONT $a) </dev/null >/dev/null 2>&1 & "
            + "exec sleep 121"
        let started = Date()
        let error = try #require(throws: ForbcError.self) {
            try connection.exec(domain: domain, ["sh", "-c", freeze], environment: [:], timeout: 300)
        }
        let failedAfter = Date().timeIntervalSince(started)
        print(
            String(format: "RealGuestSilenceTests: the program failed %.1f s after it started: ", failedAfter)
                + error.message)
        #expect(error.message.contains("the guest agent of '\(domain)' stopped answering while 'sh' (pid "))
        #expect(error.message.contains("3 polls unanswered"), "\(error.message)")
        #expect(error.message.contains("Guest agent is not responding"), "\(error.message)")
        #expect(connection.notAnswering(domain: domain) != nil)
        // Once qemu-ga goes on, a command is answered and the domain's commands get their whole timeout again.
        var answered: GuestExit?
        while answered == nil && Date().timeIntervalSince(started) < 120 {
            answered = try? connection.exec(domain: domain, ["true"], environment: [:], timeout: 10)
        }
        print(
            String(
                format: "RealGuestSilenceTests: answered again %.1f s after the start",
                Date().timeIntervalSince(started)))
        #expect(answered?.exitCode == 0)
        #expect(connection.notAnswering(domain: domain) == nil)
        _ = try connection.exec(domain: domain, ["pkill", "-x", "-f", "sleep 121"], environment: [:], timeout: 10)
    }
}
