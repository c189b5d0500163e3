import ForbcCore
import ForbcTestSupport
import Foundation
import Testing

/// Issue 16: the vGPU calls of the real NVMLLibrary (scheduler, supported types, a GPU instance with no compute
/// instance) through the C mock, in the mock's serialized suite (they share its state file).
extension NVMLMockTests {
    @Test("the vGPU scheduler through NVML's structs: capabilities, state, set, refusal, and none without vGPU")
    func vgpuScheduler() throws {
        _ = try NVMLMock.freshState()
        let nvml = try NVMLMock.load()
        #expect(try nvml.vgpuScheduler(device: 0) == nil, "the H100 in a VM runs no vGPU manager")
        let initial = try #require(try nvml.vgpuScheduler(device: 1))
        #expect(
            initial
                == VGPUSchedulerState(
                    policy: .bestEffort, timesliceNs: 2_000_000, supported: [.bestEffort, .equalShare, .fixedShare],
                    minTimesliceNs: 1_000_000, maxTimesliceNs: 30_000_000))
        try nvml.setVGPUScheduler(device: 1, policy: .equalShare, timesliceNs: 4_000_000)
        let set = try #require(try NVMLMock.load().vgpuScheduler(device: 1))
        #expect(set.policy == .equalShare && set.timesliceNs == 4_000_000)
        do {
            try nvml.setVGPUScheduler(device: 1, policy: .fixedShare, timesliceNs: 31_000_000)
            Issue.record("a time slice past maxTimeslice was set")
        } catch let error as ForbcError {
            #expect(
                error.message
                    == "NVML: nvmlDeviceSetVgpuSchedulerState failed: Invalid Argument (NVML_ERROR_INVALID_ARGUMENT)")
        }
    }

    @Test("mixed-size vGPU through NVML's structs: the mode, each type's placements (v2 list), set, none in MIG mode")
    func vgpuPlacements() throws {
        _ = try NVMLMock.freshState()
        let nvml = try NVMLMock.load()
        #expect(try nvml.vgpuPlacements(device: 0) == nil, "the H100 in a VM runs no vGPU manager")
        let rules = [703: VGPUPlacementRule(size: 10, ids: [0, 10, 20, 30])]
        #expect(try nvml.vgpuPlacements(device: 1) == VGPUPlacementState(heterogeneous: false, rules: rules))
        try nvml.setVGPUHeterogeneousMode(device: 1, enabled: true)
        #expect(try nvml.creatablePlacements(device: 1, type: 703) == [0, 10, 20, 30])
        #expect(try nvml.creatablePlacements(device: 1, type: 723).isEmpty, "a MIG-backed type has none")
        #expect(
            try NVMLMock.load().vgpuPlacements(device: 1)
                == VGPUPlacementState(heterogeneous: true, rules: rules, active: []))
        // nvmlVgpuInstanceGetPlacementId: each active vGPU instance's placement ID in heterogeneous mode; one with
        // NVML_INVALID_VGPU_PLACEMENT_ID (0xFFFF) is left out.
        try NVMLMock.configureVGPUs("703@30,703@65535,703@10")
        #expect(
            try nvml.vgpuPlacements(device: 1)?.active
                == [VGPUActivePlacement(type: 703, placement: 10), VGPUActivePlacement(type: 703, placement: 30)])
        try nvml.setVGPUHeterogeneousMode(device: 1, enabled: false)
        #expect(try nvml.vgpuPlacements(device: 1)?.active == nil, "no placement IDs in equal-size mode")
        try nvml.setVGPUHeterogeneousMode(device: 1, enabled: true)
        _ = try nvml.setMIGMode(device: 1, enabled: true)
        #expect(try nvml.vgpuPlacements(device: 1) == nil, "NVML: no heterogeneous mode in MIG mode")
        do {
            try nvml.setVGPUHeterogeneousMode(device: 1, enabled: false)
            Issue.record("the mode was set in MIG mode")
        } catch let error as ForbcError {
            #expect(error.code == .unsupported)
        }
        _ = try nvml.setMIGMode(device: 1, enabled: false)
    }

    @Test(
        "nvmlDeviceGetActiveVgpus: a VM started between count and fetch, one ended meanwhile, calls NVML lacks"
    )
    func activeVGPUsRace() throws {
        let state = try NVMLMock.freshState()
        let nvml = try NVMLMock.load()
        try nvml.setVGPUHeterogeneousMode(device: 1, enabled: true)
        func active(_ spec: String, fail: String? = nil) throws -> [Int]? {
            try NVMLMock.configure(state: state, fail: fail)
            try NVMLMock.configureVGPUs(spec)
            return try nvml.vgpuPlacements(device: 1)?.active?.map(\.placement)
        }
        // NVML_ERROR_INSUFFICIENT_SIZE on the fetch: asked again with the new count.
        #expect(try active("703@0,+703@20") == [0, 20])
        // NVML_ERROR_NOT_FOUND from nvmlVgpuInstanceGetType (its VM ended): left out.
        #expect(try active("703@0,-703@20") == [0])
        // A call NVML does not support or lacks: the read-back is unknown (nil), the rest of the state is there.
        for fail in [
            "nvmlDeviceGetActiveVgpus:3", "nvmlVgpuInstanceGetType:13", "nvmlVgpuInstanceGetPlacementId:3",
        ] {
            try NVMLMock.configure(state: state, fail: fail)
            try NVMLMock.configureVGPUs("703@0")
            let read = try #require(try nvml.vgpuPlacements(device: 1), "\(fail)")
            #expect(read.active == nil && read.heterogeneous && read.rules[703]?.ids == [0, 10, 20, 30], "\(fail)")
        }
        // Another failure is one.
        #expect(throws: ForbcError.self) { try active("703@0", fail: "nvmlVgpuInstanceGetType:999") }
        try NVMLMock.configure(state: state)
    }

    @Test("nvml.h's nvmlReturn_t: FUNCTION_NOT_FOUND 13, VGPU_ECC_NOT_SUPPORTED 22, INSUFFICIENT_RESOURCES 23, 25")
    func returnCodes() {
        #expect(NVMLReturn.names[13] == "NVML_ERROR_FUNCTION_NOT_FOUND")
        #expect(NVMLReturn.names[22] == "NVML_ERROR_VGPU_ECC_NOT_SUPPORTED")
        #expect(NVMLReturn.names[23] == "NVML_ERROR_INSUFFICIENT_RESOURCES" && NVMLReturn.insufficientResources == 23)
        #expect(NVMLReturn.names[25] == "NVML_ERROR_ARGUMENT_VERSION_MISMATCH")
    }

    @Test("the mock answers a struct of the wrong version with NVML_ERROR_ARGUMENT_VERSION_MISMATCH, as NVML does")
    func versionMismatch() throws {
        _ = try NVMLMock.freshState()
        let nvml = try NVMLMock.load()
        typealias GetPlacement = @convention(c) (UInt32, UnsafeMutableRawPointer?) -> Int32
        typealias GetHandle = @convention(c) (UInt32, UnsafeMutablePointer<OpaquePointer?>?) -> Int32
        typealias GetMode = @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?) -> Int32
        var words: [UInt32] = [0, 0, 0, 0]  // version 0: neither nvmlVgpuPlacementId_v1 nor HeterogeneousMode_v1
        var handle: OpaquePointer?
        try withExtendedLifetime(nvml) {
            let getPlacement = unsafeBitCast(
                try NVMLMock.entry("nvmlVgpuInstanceGetPlacementId"), to: GetPlacement.self)
            #expect(getPlacement(1, &words) == 25)
            let getHandle = unsafeBitCast(try NVMLMock.entry("nvmlDeviceGetHandleByIndex_v2"), to: GetHandle.self)
            #expect(getHandle(1, &handle) == 0)
            let getMode = unsafeBitCast(try NVMLMock.entry("nvmlDeviceGetVgpuHeterogeneousMode"), to: GetMode.self)
            #expect(getMode(handle, &words) == 25)
        }
    }

    @Test("supported vGPU types with their GPU-instance profile; a GPU instance with no compute instance")
    func vgpuTypesAndBareInstance() throws {
        _ = try NVMLMock.freshState()
        let nvml = try NVMLMock.load()
        #expect(try nvml.vgpuTypes(device: 0).isEmpty)
        #expect(
            try nvml.vgpuTypes(device: 1) == [
                NVMLVGPUType(id: 703, name: "NVIDIA A100-10C"),
                NVMLVGPUType(id: 723, name: "NVIDIA A100-3-20C", gpuInstanceProfileID: 9),
            ])
        _ = try nvml.setMIGMode(device: 1, enabled: true)
        let bare = try nvml.createInstance(
            device: 1, profileID: 9, placement: MIGPlacement(start: 4, size: 4), computeSlices: nil,
            computeCount: nil, computeInstances: [])
        #expect(bare.uuids.isEmpty && bare.placement.start == 4)
        try nvml.destroyInstance(device: 1, instanceID: bare.id)
        _ = try nvml.setMIGMode(device: 1, enabled: false)
    }
}
