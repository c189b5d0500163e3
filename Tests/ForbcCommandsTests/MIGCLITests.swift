import ForbcTestSupport
import Foundation
import Testing

/// The MIG lifecycle as people see it on the command line (issue 13).
@Suite("MIG on the command line")
struct MIGCLITests {
    func manifest(_ mig: String) -> String {
        writeManifest(
            """
            apiVersion: forbc/v1
            kind: Host
            metadata: {name: lab}
            spec:
              gpus:
                - select: {index: 0}
                  \(mig)
            """)
    }

    @Test("a rename plans '= relabel', a disabled mode plans the instances' destruction, then the mode")
    func relabelAndDisable() {
        let cli = CLI()
        let first = manifest("mig: [{name: a, profile: 3g.20gb}]")
        #expect(cli.sim("nvidia-a100-40gb", "apply", [first, "--yes", "--no-bench"]).code == 0)
        let renamed = cli.sim("nvidia-a100-40gb", "plan", [manifest("mig: [{name: b, profile: 3g.20gb}]")])
        #expect(
            renamed.stdout.contains("0 to create, 0 to destroy, 0 to configure, 1 to relabel"), "\(renamed.stdout)")
        #expect(
            renamed.stdout.contains(
                "  = relabel   'b': MIG instance 3g.20gb at slot 0 of 0000:07:00.0"), "\(renamed.stdout)")
        let off = cli.sim("nvidia-a100-40gb", "plan", [manifest("migMode: disabled")])
        #expect(off.stdout.contains("  - destroy   'a': MIG instance 3g.20gb at slot 0"), "\(off.stdout)")
        #expect(
            off.stdout.contains("  ~ configure '0000:07:00.0': MIG mode of 0000:07:00.0 to disabled"), "\(off.stdout)")
    }
}
