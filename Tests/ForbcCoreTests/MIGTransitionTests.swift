import ForbcCore
import ForbcSimulator
import ForbcTestSupport
import Foundation
import Testing

/// Issue 13's transition sequence: all-1g → balanced → all-3g → all-7g → balanced → disabled → passthrough →
/// MIG again, on the simulated A100 pair (`{all: true}`) and the H100; each plan destroys only what must go,
/// and each end state matches its manifest.
@Suite("MIG transition sequence")
struct MIGTransitionTests {
    struct Host: Sendable, CustomStringConvertible {
        var profile: String
        var select: String
        var gpus: Int
        /// 1g, 2g, 3g and 7g profile names.
        var sizes: [String]
        var description: String { profile }
    }

    static let hosts = [
        Host(
            profile: "nvidia-a100-40gb", select: "{all: true}", gpus: 2,
            sizes: ["1g.5gb", "2g.10gb", "3g.20gb", "7g.40gb"]),
        Host(
            profile: "nvidia-h100", select: "{index: 0}", gpus: 1, sizes: ["1g.10gb", "2g.20gb", "3g.40gb", "7g.80gb"]),
    ]

    /// The step's `gpus[]` entry body, and the MIG instances each GPU loses on the way there (minimal by hand:
    /// balanced keeps two 1g of seven, all-3g keeps balanced's 3g, balanced after 7g keeps nothing).
    static func steps(_ host: Host) -> [(String, String, Int)] {
        let (one, two, three, seven) = (host.sizes[0], host.sizes[1], host.sizes[2], host.sizes[3])
        let balanced =
            "mig: [{name: one, profile: \(one), count: 2}, {name: two, profile: \(two)}, "
            + "{name: three, profile: \(three)}]"
        return [
            ("all-1g", "mig: [{name: one, profile: \(one), count: 7}]", 0),
            ("balanced", balanced, 5),
            ("all-3g", "mig: [{name: three, profile: \(three), count: 2}]", 3),
            ("all-7g", "mig: [{name: seven, profile: \(seven)}]", 2),
            ("balanced", balanced, 1),
            ("disabled", "migMode: disabled", 4),
            ("passthrough", "passthrough: {name: whole}", 0),
            ("mig again", balanced, 0),
        ]
    }

    @Test("each step destroys only what must go and ends in sync", arguments: hosts)
    func sequence(host: Host) throws {
        let fixture = try SimulatedHostFixture(profile: host.profile)
        for (name, body, lost) in Self.steps(host) {
            let manifest = try fixture.manifest(
                text: """
                    apiVersion: forbc/v1
                    kind: Host
                    metadata: {name: m}
                    spec:
                      gpus:
                        - select: \(host.select)
                          \(body)
                    """)
            let plan = try fixture.plan(manifest)
            let destroys = plan.actions.filter { $0.kind == .mig && $0.action == .destroy }
            #expect(destroys.count == lost * host.gpus, "\(name): \(destroys.map(\.target))")
            let report = try fixture.session.apply(plan, resetGPU: true)
            #expect(report.succeeded, "\(name): \(report.failed?.error.message ?? "")")
            let after = try fixture.plan(manifest)
            #expect(after.isEmpty, "\(name): \(after.actions.map { "\($0.action) \($0.target): \($0.reason)" })")
            #expect(DriftReport(plan: after, manifest: manifest).inSync, "\(name)")
            let devices = fixture.kernel.model.nvml
            let expected = manifest.gpus[0].mig.reduce(0) { $0 + $1.count }
            #expect(devices.allSatisfy { $0.instances.count == expected }, "\(name)")
            #expect(devices.allSatisfy { $0.currentMode == (manifest.gpus[0].migMode == true) }, "\(name)")
        }
    }
}
