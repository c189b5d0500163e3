import ForbcCore
import ForbcTestSupport
import Foundation
import Testing

/// Signals during an apply whose one step is a GPU reset (`migMode: enabled` with '--reset-gpu'), through the
/// forbc binary and the C mock's `nvidia-smi`, which takes `FORBC_NVML_MOCK_SMI_DELAY_MS` to reset.
extension NVMLMockTests {
    /// Starts `forbc apply --reset-gpu` of `gpus` (default: the one-step plan `migMode: enabled`) with a reset of
    /// `delay` ms; returns once the reset runs, with the host it runs on.
    func startReset(
        delay: Int, _ name: String, gpus: String = "    - {select: {pciAddress: \"0000:00:06.0\"}, migMode: enabled}"
    ) throws -> (ForbcBinary.Running, host: MockHost) {
        var host = try mockHost(name, gpus: gpus)
        let started = host.base.appendingPathComponent("reset-started").path
        host.environment["FORBC_NVML_MOCK_SMI_STARTED"] = started
        host.environment["FORBC_NVML_MOCK_SMI_DELAY_MS"] = "\(delay)"
        let arguments = ["apply", host.manifest, "--yes", "--no-bench", "--reset-gpu"] + host.common
        let running = try ForbcBinary.start(arguments, environment: host.environment)
        try awaitReset(running, started: started)
        return (running, host)
    }

    @Test("a signal during the last step: the apply completes, says that the signal came, and exits 128 + it")
    func signalDuringLastStep() throws {
        let (running, _) = try startReset(delay: 1500, "last-step")
        #expect(kill(running.process.processIdentifier, SIGTERM) == 0)
        let outcome = running.wait()
        #expect(outcome.code == 128 + SIGTERM && !outcome.signalled, "\(outcome.stdout)\(outcome.stderr)")
        #expect(outcome.stderr.contains("forbc: SIGTERM received; the step under way finishes"), "\(outcome.stderr)")
        #expect(
            outcome.stderr.contains(
                "forbc: SIGTERM came during the last step of 'apply', which finished: all 1 step done; nothing was "
                    + "left to stop; exit status 143"), "\(outcome.stderr)")
        #expect(try NVMLMock.load().devices()["0000:00:06.0"]?.currentMode == true, "the reset finished")
    }

    @Test("a second signal during a GPU reset ends forbc at once, by that signal")
    func secondSignal() throws {
        // A reset of 10 s: forbc ended by the signal has not waited for it (had it, it would exit 130).
        let (running, _) = try startReset(delay: 10_000, "second-signal")
        let pid = running.process.processIdentifier
        #expect(kill(pid, SIGINT) == 0)
        var seen = Data()
        let errors = running.errors.fileHandleForReading
        while !String(decoding: seen, as: UTF8.self).contains("send it again to stop at once") {
            let chunk = errors.availableData
            if chunk.isEmpty { break }
            seen += chunk
        }
        #expect(kill(pid, SIGINT) == 0)
        let outcome = running.wait()
        #expect(outcome.signalled && outcome.code == SIGINT, "\(outcome.stdout)\(outcome.stderr)")
    }
}
