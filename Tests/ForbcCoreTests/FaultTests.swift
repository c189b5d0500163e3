import ForbcCore
import ForbcSimulator
import ForbcTestSupport
import Foundation
import Testing

@Suite("faults and confinement")
struct FaultTests {
    static let before = CannedManifests.twoT4s
    static let after = """
        apiVersion: forbc/v1
        kind: Host
        metadata: {name: t4}
        spec:
          gpus:
            - select: {index: 0}
              vgpu: [{name: desk, type: T4-4Q, count: 2}]
            - select: {index: 1}
              vgpu: [{name: ml, type: T4-8C, count: 2}]
        """

    @Test(
        "each write of an apply failing in turn: path, value and errno reported; nothing else lost; a rerun converges",
        arguments: [1, 2, 3, 4])
    func failEachWrite(ordinal: Int) throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-t4")
        try fixture.apply(try fixture.manifest(text: Self.before))
        let target = try fixture.manifest(text: Self.after)
        let plan = try fixture.plan(target)
        #expect(plan.actions.map(\.action) == [.destroy, .destroy, .create, .create])
        let untouched = try fixture.inventory().mdevs.filter { mdev in !plan.actions.contains { $0.uuid == mdev.uuid } }
        #expect(untouched.count == 2)

        fixture.kernel.inject(SimFault(writeOrdinal: ordinal, errno: Errno.EIO))
        let report = try fixture.session.apply(plan)
        let failed = try #require(report.failed)
        let action = plan.actions[ordinal - 1]
        #expect(failed.action == action)
        #expect(failed.error.path == action.path)
        #expect(failed.error.errno == Errno.EIO)
        #expect(failed.error.message == "writing '\(action.value)' to \(action.path) failed: input/output error (EIO)")
        #expect(report.done == Array(plan.actions.prefix(ordinal - 1)))
        #expect(report.notAttempted == Array(plan.actions.dropFirst(ordinal)))

        let now = try fixture.inventory().mdevs
        for mdev in untouched { #expect(now.contains(mdev), "\(mdev.uuid) survived") }
        // The state dir still records every partition that exists and that forbc made.
        let state = try fixture.state()
        for mdev in now { #expect(state.owned(uuid: mdev.uuid) != nil) }

        #expect(try fixture.apply(target).report.succeeded)
        #expect(try fixture.plan(target).isEmpty)
        #expect(
            Set(try fixture.inventory().mdevs.map(\.uuid))
                == Set(["desk-0", "desk-1", "ml-0", "ml-1"].map { UUIDv5.partition(host: "t4", name: $0) }))
    }

    @Test("kernel refusals are reported with the kernel's errno and change nothing else")
    func kernelRefusal() throws {
        let fixture = try SimulatedHostFixture(profile: "amd-mi210")
        fixture.kernel.inject(SimFault(path: SysPath.pci("0000:c3:00.0", "sriov_numvfs"), errno: Errno.ENOMEM))
        let report = try fixture.apply(try fixture.manifest("amd-mi210")).report
        #expect(
            report.failed?.error.message
                == "writing '4' to /sys/bus/pci/devices/0000:c3:00.0/sriov_numvfs failed: cannot allocate memory "
                + "(ENOMEM)"
        )
        #expect(try fixture.inventory().gpus[0].sriov?.numVFs == 0)
    }

    /// Every file under `directory` with its contents.
    func snapshot(_ directory: URL) -> [String: Data] {
        var files: [String: Data] = [:]
        let enumerator = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: nil)
        while let url = enumerator?.nextObject() as? URL {
            files[url.path] = (try? Data(contentsOf: url)) ?? Data()
        }
        return files
    }

    @Test("no write lands outside --root, whatever the manifest holds")
    func confinedToRoot() throws {
        let base = makeTemporaryDirectory("confine")
        defer { try? FileManager.default.removeItem(at: base) }
        let root = base.appendingPathComponent("root")
        let outside = base.appendingPathComponent("outside")
        let state = base.appendingPathComponent("state")
        try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)
        try Data("keep".utf8).write(to: outside.appendingPathComponent("sentinel"))
        let simulated = SimulatedKernel(model: SimulatedProfiles.make("nvidia-t4")!)
        try simulated.materialize(into: root)
        let host = HostSession(sysfs: RealSysfs(root: root.path), store: StateStore(directory: state))
        let outsideBefore = snapshot(outside)

        // The kernel-path join refuses to leave the root.
        for path in [
            "/sys/../outside/sentinel", "/sys/bus/../../../outside/sentinel", "sys/bus", "/sys//bus", "/sys/./bus",
            "/sys/bus/\u{0}x",
        ] {
            #expect(throws: ForbcError.self) { try host.sysfs.write(path, "x") }
        }
        // Hostile names and types never get past validation.
        for hostile in [
            "../../outside", "x/../../outside", "a;touch /tmp/pwned", "$(touch pwned)", "..",
            "nvidia-224/../../../../outside",
        ] {
            let text = """
                apiVersion: forbc/v1
                kind: Host
                metadata: {name: t4}
                spec:
                  gpus:
                    - select: {parent: "\(hostile)"}
                      vgpu: [{name: "\(hostile)", type: "\(hostile)"}]
                """
            #expect(throws: DiagnosticsError.self) { try ManifestParser.parse(text: text, file: "hostile.yaml") }
        }
        // A real apply under the root writes only there (plain files do not react, so it writes once per action).
        let manifest = try ManifestParser.parse(text: Self.before, file: "t4.yaml")
        let report = try host.apply(try host.plan(manifest))
        #expect(report.succeeded && report.done.count == 4)
        // The same create file takes several UUIDs; it holds the last one written.
        var last: [String: String] = [:]
        for action in report.done { last[action.path] = action.value }
        for (path, value) in last {
            #expect(try String(contentsOfFile: root.path + path, encoding: .utf8) == value)
        }
        #expect(snapshot(outside) == outsideBefore)
        let written = snapshot(base).keys.filter {
            !$0.hasPrefix(root.path) && !$0.hasPrefix(state.path) && !$0.hasPrefix(outside.path)
        }
        #expect(written.allSatisfy { $0 == root.path || $0 == state.path || $0 == outside.path }, "\(written)")
    }
}
