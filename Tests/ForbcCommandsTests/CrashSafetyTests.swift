import ForbcCore
import ForbcSimulator
import ForbcTestSupport
import Foundation
import Testing

/// forbc killed at any point of an apply, and two applies at once: nothing forbc made is lost or orphaned, and
/// a rerun converges. Runs the built binary against simulated hosts kept in state dirs.
@Suite("crash safety and concurrent applies")
struct CrashSafetyTests {
    static func manifest(
        _ type: String, gpu: Int = 0, name: String = "desk", count: Int = 4, prune: String = "managed"
    ) -> String {
        writeManifest(
            """
            apiVersion: forbc/v1
            kind: Host
            metadata: {name: crash}
            spec:
              gpus:
                - select: {index: \(gpu)}
                  vgpu: [{name: \(name), type: \(type), count: \(count)}]
              prune: \(prune)
            """)
    }

    /// Names of leftover temporary files in a state dir.
    static func temporaries(_ directory: URL) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).filter {
            $0.contains("tmp") || $0.hasPrefix(".")
        }
    }

    @Test("kill -9 after each write of a type change: no temporary file, and a rerun converges", arguments: 1...8)
    func killDuringTypeChange(writes: Int) throws {
        let state = makeTemporaryDirectory("kill")
        defer { try? FileManager.default.removeItem(at: state) }
        let before = Self.manifest("T4-4Q")
        let after = Self.manifest("T4-2Q")
        let common = ["--simulate", "nvidia-t4", "--state-dir", state.path, "--yes"]
        #expect(try ForbcBinary.run(["apply", before] + common).code == 0)
        // 4 removals, then 4 creations: die right after write number `writes`.
        let killed = try ForbcBinary.run(
            ["apply", after] + common, environment: [SimulatedHost.killVariable: "\(writes)"])
        #expect(killed.signalled && killed.code == 9, "\(killed.stderr)")
        #expect(Self.temporaries(state).isEmpty, "left behind: \(Self.temporaries(state))")
        let rerun = try ForbcBinary.run(["apply", after] + common)
        #expect(rerun.code == 0, "\(rerun.stdout)\(rerun.stderr)")
        let drift = try ForbcBinary.run(["drift", after, "--simulate", "nvidia-t4", "--state-dir", state.path])
        #expect(drift.code == 0, "\(drift.stdout)\(drift.stderr)")
        let recorded = try StateStore(directory: state).load().partitions
        #expect(recorded.map(\.name) == ["desk-0", "desk-1", "desk-2", "desk-3"])
        #expect(recorded.allSatisfy { $0.typeName == "NVIDIA T4-2Q" || $0.type == "nvidia-223" }, "\(recorded)")
        #expect(Self.temporaries(state).isEmpty)
    }

    @Test("two applies at once: each either finishes or is refused by the lock; nothing either made is lost")
    func overlappingApplies() throws {
        let first = Self.manifest("T4-4Q", gpu: 0, name: "a", prune: "none")
        let second = Self.manifest("T4-8Q", gpu: 1, name: "b", count: 2, prune: "none")
        for _ in 0..<20 {
            let state = makeTemporaryDirectory("pair")
            defer { try? FileManager.default.removeItem(at: state) }
            let common = ["--simulate", "nvidia-t4", "--state-dir", state.path, "--yes", "--no-bench"]
            let one = try ForbcBinary.start(["apply", first] + common)
            let two = try ForbcBinary.start(["apply", second] + common)
            let outcomes = [(first, one.wait()), (second, two.wait())]
            for (manifest, outcome) in outcomes {
                #expect(
                    outcome.code == 0 || outcome.stderr.contains("is applying to this host"),
                    "\(outcome.stdout)\(outcome.stderr)")
                guard outcome.code == 0 else { continue }
                let drift = try ForbcBinary.run([
                    "drift", manifest, "--simulate", "nvidia-t4", "--state-dir", state.path,
                ])
                #expect(drift.code == 0, "what \(manifest) made was lost: \(drift.stdout)")
            }
            // Every partition the state dir records exists on the host.
            let host = try ForbcBinary.run([
                "discover", "--simulate", "nvidia-t4", "--state-dir", state.path, "--output", "json",
            ])
            for partition in try StateStore(directory: state).load().partitions {
                #expect(host.stdout.contains(partition.uuid ?? "?"), "\(partition.name) recorded but absent")
            }
        }
    }
}
