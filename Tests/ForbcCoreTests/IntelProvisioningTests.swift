import ForbcCore
import ForbcSimulator
import ForbcTestSupport
import Foundation
import Testing

/// Intel SR-IOV VF provisioning on the simulated `intel-flex170`. Each rule test names the document it follows:
/// i915's sysfs-i915-iov ABI (the `prelim_iov/` tree) and the xe driver's sysfs-driver-intel-xe-sriov ABI.
@Suite("Intel SR-IOV VF provisioning")
struct IntelProvisioningTests {
    static let vf1 = "/sys/class/drm/card1/prelim_iov/vf1/gt"

    func host(_ sriov: String) -> String {
        "apiVersion: forbc/v1\nkind: Host\nmetadata: {name: flex}\nspec:\n  gpus:\n    - select: {vendor: intel}\n"
            + "      sriov: \(sriov)\n"
    }

    func refusal(_ fixture: SimulatedHostFixture, _ text: String) throws -> [Diagnostic] {
        let before = fixture.kernel.counters.writes
        defer { #expect(fixture.kernel.counters.writes == before, "an impossible manifest changes nothing") }
        do {
            _ = try fixture.plan(try fixture.manifest(text: text))
            return []
        } catch let error as DiagnosticsError {
            return error.diagnostics
        }
    }

    func settings(_ fixture: SimulatedHostFixture, vf: Int) -> [String: UInt64] {
        fixture.kernel.model.devices[0].iov!.vfs[vf - 1]
    }

    @Test("intel-flex170: apply, converged (0 writes), drift after a change behind forbc's back, repair, export")
    func lifecycle() throws {
        let fixture = try SimulatedHostFixture(profile: "intel-flex170")
        let manifest = try fixture.manifest("intel-flex170")
        #expect(try fixture.apply(manifest).report.succeeded)
        #expect(settings(fixture, vf: 4)["lmem_quota"] == 3 << 30 && settings(fixture, vf: 4)["exec_quantum_ms"] == 20)
        #expect(fixture.kernel.model.devices[0].sriov?.numVFs == 4)
        #expect(try fixture.apply(manifest).writes == 0, "a converged host gets zero writes")
        #expect(DriftReport(plan: try fixture.plan(manifest), manifest: manifest).inSync)

        // A scheduling setting changed behind forbc's back: drift, repaired in place (the VFs stay enabled).
        try fixture.kernel.write("/sys/class/drm/card1/prelim_iov/vf2/gt/exec_quantum_ms", "5")
        let drift = DriftReport(plan: try fixture.plan(manifest), manifest: manifest)
        #expect(drift.items.map(\.partition) == ["flex-1"], "\(drift.items)")
        fixture.kernel.resetCounters()
        #expect(try fixture.apply(manifest).writes == 1)
        #expect(fixture.kernel.counters.writeLog == ["/sys/class/drm/card1/prelim_iov/vf2/gt/exec_quantum_ms <- 20"])

        // VFs disabled behind forbc's back release their quotas: apply provisions again, then enables.
        try fixture.kernel.write(SysPath.pci("0000:4d:00.0", "sriov_numvfs"), "0")
        #expect(settings(fixture, vf: 1)["lmem_quota"] == 0)
        #expect(!DriftReport(plan: try fixture.plan(manifest), manifest: manifest).inSync)
        #expect(try fixture.apply(manifest).report.succeeded)
        #expect(try fixture.plan(manifest).isEmpty)
        #expect(settings(fixture, vf: 1)["lmem_quota"] == 3 << 30)

        let exported = try Exporter(inventory: try fixture.inventory(domains: true), state: try fixture.state())
            .manifest()
        #expect(exported.contains("perVF: {localMemory: 3G, ggtt: 512M, contexts: 1024, doorbells: 32"), "\(exported)")
        #expect(try fixture.plan(try fixture.manifest(text: exported)).isEmpty, "export:\n\(exported)")
    }

    @Test("xe ABI (auto-provisioning): a VF count alone writes only sriov_numvfs and the driver provisions the VFs")
    func automatic() throws {
        let fixture = try SimulatedHostFixture(profile: "intel-flex170")
        let manifest = try fixture.manifest(text: host("{name: flex, vfs: 4}"))
        #expect(try fixture.apply(manifest).writes == 1)
        #expect(fixture.kernel.counters.writeLog == ["/sys/bus/pci/devices/0000:4d:00.0/sriov_numvfs <- 4"])
        // A fair share of what the PF offers (15.5 GiB / 4, aligned to 2 MiB), on each enabled VF only.
        #expect(settings(fixture, vf: 1)["lmem_quota"] == UInt64((16 * 1024 - 512) / 4) << 20)
        #expect(settings(fixture, vf: 5)["lmem_quota"] == 0)
        #expect(try fixture.plan(manifest).isEmpty, "the driver's provisioning is no drift")
        let exported = try Exporter(inventory: try fixture.inventory(), state: try fixture.state()).manifest()
        #expect(try fixture.plan(try fixture.manifest(text: exported)).isEmpty, "export:\n\(exported)")
    }

    @Test("sysfs-i915-iov pf/gtN/available/*_max_quota: quotas beyond what the PF offers for VFs are refused")
    func beyondDevice() throws {
        let fixture = try SimulatedHostFixture(profile: "intel-flex170")
        let memory = try refusal(
            fixture, host("{vfs: 4, perVF: {localMemory: 5G, ggtt: 256M, contexts: 1024, doorbells: 16}}"))
        #expect(
            memory.map(\.message) == [
                "'vf' asks for 4 × 5G of 'localMemory' (20G in all); 0000:4d:00.0 (Intel Data Center GPU Flex 170) "
                    + "offers 15872M for VFs (/sys/class/drm/card1/prelim_iov/pf/gt/available/lmem_max_quota); lower "
                    + "it or the VF count"
            ])
        #expect(memory.first?.location?.line == 7)
        let doorbells = try refusal(
            fixture, host("{vfs: 31, perVF: {localMemory: 256M, ggtt: 64M, contexts: 1024, doorbells: 8}}"))
        #expect(doorbells.first?.message.contains("asks for 31 × 8 of 'doorbells' (248 in all)") == true)
    }

    @Test("xe ABI 'Any non-zero initial VRAM provisioning will block VFs auto-provisioning': quotas go together")
    func partialQuotas() throws {
        do {
            _ = try ManifestParser.parse(text: host("{vfs: 2, perVF: {localMemory: 2G, contexts: 64}}"), file: "m.yaml")
            Issue.record("accepted a partial set of quotas")
        } catch let error as DiagnosticsError {
            #expect(
                error.diagnostics.map(\.description) == [
                    "m.yaml:7:30: error: 'spec.gpus[0].sriov.perVF' declares VF quotas but not 'ggtt'; a declared "
                        + "quota turns the driver's automatic provisioning off, so declare localMemory, ggtt, contexts "
                        + "and doorbells together, or none"
                ])
        }
    }

    @Test("xe ABI 'only possible when VF is not running': quotas are written before enabling, through 0 VFs")
    func quotasBeforeEnabling() throws {
        let fixture = try SimulatedHostFixture(profile: "intel-flex170")
        try fixture.apply(try fixture.manifest("intel-flex170"))
        let bigger = try fixture.manifest(
            text: host("{name: flex, vfs: 4, perVF: {localMemory: 2G, ggtt: 512M, contexts: 1024, doorbells: 32}}"))
        // (The manifest has no 'vms': the attachment of the first goes first, a detach.)
        let actions = try fixture.plan(bigger).actions.filter { $0.domain == nil }
        let paths = actions.map { $0.path.replacingOccurrences(of: "/sys/class/drm/card1/prelim_iov/", with: "") }
        #expect(paths.first == "/sys/bus/pci/devices/0000:4d:00.0/sriov_numvfs" && actions.first?.value == "0")
        #expect(paths.last == "/sys/bus/pci/devices/0000:4d:00.0/sriov_numvfs" && actions.last?.value == "4")
        #expect(paths.dropFirst().dropLast().allSatisfy { $0.hasPrefix("vf") }, "\(paths)")
        // Written directly while the VFs are enabled, the driver refuses a quota.
        #expect(throws: ForbcError.self) { try fixture.kernel.write("\(Self.vf1)/lmem_quota", "1073741824") }
        #expect(try fixture.apply(bigger).report.succeeded)
        #expect(settings(fixture, vf: 2)["lmem_quota"] == 2 << 30)
        #expect(try fixture.plan(bigger).isEmpty)
    }

    @Test("xe ABI: a quota change is refused while a VF is assigned to a VM (bound to vfio-pci)")
    func inUse() throws {
        let fixture = try SimulatedHostFixture(profile: "intel-flex170")
        try fixture.apply(try fixture.manifest("intel-flex170"))
        fixture.kernel.mutate { $0.devices[0].sriov?.vfDriver = "vfio-pci" }
        let found = try refusal(
            fixture, host("{name: flex, vfs: 4, perVF: {localMemory: 2G, ggtt: 512M, contexts: 1024, doorbells: 32}}"))
        #expect(found.first?.message.contains("cannot change the VF quotas of 0000:4d:00.0") == true, "\(found)")
        #expect(found.first?.message.contains("is bound to vfio-pci (assigned to a VM)") == true)
    }

    @Test("xe ABI exec_quantum_ms, preempt_timeout_us 'can be changed even if VFs are enabled': written in place")
    func schedulingInPlace() throws {
        let fixture = try SimulatedHostFixture(profile: "intel-flex170")
        try fixture.apply(try fixture.manifest("intel-flex170"))
        let text = try String(contentsOfFile: RepositoryPaths.manifest("intel-flex170"), encoding: .utf8)
        let changed = try fixture.manifest(
            text: text.replacingOccurrences(of: "execQuantumMs: 20", with: "execQuantumMs: 10"))
        let plan = try fixture.plan(changed)
        #expect(plan.actions.count == 4)
        #expect(plan.actions.allSatisfy { $0.path.hasSuffix("/exec_quantum_ms") && $0.value == "10" })
    }

    @Test("'perVF' on a GPU without i915's provisioning tree is refused where it is written")
    func noTree() throws {
        let fixture = try SimulatedHostFixture(profile: "amd-mi210")
        let text =
            "apiVersion: forbc/v1\nkind: Host\nmetadata: {name: x}\nspec:\n  gpus:\n    - select: {vendor: amd}\n"
            + "      sriov: {vfs: 2, perVF: {execQuantumMs: 10}}\n"
        let found = try refusal(fixture, text)
        #expect(found.first?.message.contains("has no SR-IOV provisioning files (i915's prelim_iov/") == true)
        #expect(found.first?.location?.line == 7)
    }

    /// Tests/Fixtures/invalid/plan/EXPECTED: file, simulated profile, forbc plan's first diagnostic.
    static let planCases: [(String, String, String)] = {
        let text = try! String(contentsOfFile: RepositoryPaths.fixture("invalid/plan/EXPECTED"), encoding: .utf8)
        return text.split(separator: "\n").filter { !$0.hasPrefix("#") }.map { line in
            let fields = line.split(separator: "\t", maxSplits: 2).map(String.init)
            return (fields[0], fields[1], fields[2])
        }
    }()

    @Test("each manifest the device refuses is refused at plan time with its located diagnostic, nothing changed")
    func invalidForDevice() throws {
        #expect(Self.planCases.count >= 3)
        for (file, profile, expected) in Self.planCases {
            let fixture = try SimulatedHostFixture(profile: profile)
            let path = RepositoryPaths.fixture("invalid/plan/\(file)")
            do {
                _ = try fixture.plan(try ManifestParser.parse(contentsOf: path))
                Issue.record("\(file) was planned")
            } catch let error as DiagnosticsError {
                #expect(error.diagnostics.first?.description == "\(path):\(expected)")
            }
            #expect(fixture.kernel.counters.writes == 0)
        }
    }
}
