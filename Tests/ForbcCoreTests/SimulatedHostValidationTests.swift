import ForbcCore
import ForbcTestSupport
import Foundation
import Testing

@testable import ForbcSimulator

/// A saved simulated host is input a person can edit: its numbers are checked when it is read (a located error
/// naming the file and the field), so that the simulator's arithmetic never traps on them.
@Suite("saved simulated hosts are validated")
struct SimulatedHostValidationTests {
    @Test("every profile is a valid saved host", arguments: SimulatedProfiles.names)
    func profilesAreValid(profile: String) throws {
        let model = try #require(SimulatedProfiles.make(profile))
        #expect(throws: Never.self) { try model.validate(file: "x.json") }
    }

    /// A change to a saved model, and the place and range the error must name.
    struct Case: Sendable, CustomStringConvertible {
        let profile: String
        let place: String
        let change: @Sendable (inout SimulatedHostModel) -> Void
        var description: String { "\(profile) \(place)" }
    }

    static let cases: [Case] = [
        Case(profile: "nvidia-t4", place: "devices[0].poolUnits is \(Int.min)") { $0.devices[0].poolUnits = Int.min },
        Case(profile: "nvidia-t4", place: "devices[0].mdevTypes[0].cost is \(Int.min)") {
            $0.devices[0].mdevTypes[0].cost = Int.min
        },
        Case(profile: "nvidia-t4", place: "devices[0].mdevTypes[1].maxInstances is \(Int.min)") {
            $0.devices[0].mdevTypes[1].maxInstances = Int.min
        },
        Case(profile: "mtty", place: "virtualParents[0].poolUnits is \(Int.max)") {
            $0.virtualParents[0].poolUnits = Int.max
        },
        Case(profile: "amd-mi210", place: "devices[0].sriov.offset is 65536") { $0.devices[0].sriov?.offset = 65536 },
        Case(profile: "amd-mi210", place: "devices[0].numaNode is -2") { $0.devices[0].numaNode = -2 },
        Case(profile: "amd-mi210", place: "devices[0].sriov.numVFs is 9, more than totalVFs 8") {
            $0.devices[0].sriov?.numVFs = 9
        },
        Case(profile: "amd-mi210", place: "VF 7 of devices[0].sriov") { $0.devices[0].sriov?.offset = 0x3cfe },
        Case(profile: "nvidia-a100-40gb", place: "nvml[0].nextInstanceID is -1") { $0.nvml[0].nextInstanceID = -1 },
        Case(profile: "nvidia-l40s-vgpu", place: "vgpus[0000:41:00.4] is \(Int.min)") {
            $0.vgpus["0000:41:00.4"] = Int.min
        },
        Case(profile: "nvidia-t4", place: "nextMPSPID is -7") { $0.nextMPSPID = -7 },
    ]

    @Test("an integer out of range is a located error naming the file, the field and the value", arguments: cases)
    func refused(_ item: Case) throws {
        var model = try #require(SimulatedProfiles.make(item.profile))
        item.change(&model)
        let directory = makeTemporaryDirectory("validate")
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("simulated-host.json")
        try JSONEncoder().encode(model).write(to: file)
        let error = try #require(throws: ForbcError.self) { try SimulatedKernel.load(from: file) }
        #expect(error.code == .invalidInput && error.path == file.path)
        #expect(
            error.message.contains("the simulated host \(file.path) is not one the simulator can run: \(item.place)"))
    }

    @Test("an i915 VF quota past 2^64 beside another VF's is ENOSPC, not an overflow")
    func quotaSumOverflow() throws {
        let kernel = SimulatedKernel(model: SimulatedProfiles.make("intel-flex170")!)
        let root = "/sys/class/drm/card\(kernel.model.devices[0].iov!.card)/prelim_iov"
        try kernel.write("\(root)/vf1/gt/lmem_quota", "1024")
        #expect(throws: ForbcError.self) { try kernel.write("\(root)/vf2/gt/lmem_quota", "\(UInt64.max)") }
        do {
            try kernel.write("\(root)/vf2/gt/lmem_quota", "\(UInt64.max)")
        } catch let error as ForbcError {
            #expect(error.errno == Errno.ENOSPC)
        }
    }
}
