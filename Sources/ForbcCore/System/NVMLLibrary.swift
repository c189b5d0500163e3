import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The real NVML, loaded with dlopen("libnvidia-ml.so.1") at run time: no link-time dependency, so a host
/// without NVIDIA's driver simply has no MIG capability. Versioned entry points are resolved by name with
/// dlsym; every nvmlReturn_t is checked; nvmlShutdown runs when the library is released. NVML's structs are
/// read at their documented byte offsets (nvml.h, API version 12/13), not through a C header.
public final class NVMLLibrary: NVMLChannel, @unchecked Sendable {
    private let library: UnsafeMutableRawPointer
    private let lock = NSLock()

    typealias Device = OpaquePointer?
    typealias Init = @convention(c) () -> Int32
    typealias ErrorString = @convention(c) (Int32) -> UnsafePointer<CChar>?
    typealias GetCount = @convention(c) (UnsafeMutablePointer<UInt32>) -> Int32
    typealias GetHandle = @convention(c) (UInt32, UnsafeMutablePointer<Device>) -> Int32
    typealias GetString = @convention(c) (Device, UnsafeMutablePointer<CChar>, UInt32) -> Int32
    typealias GetStruct = @convention(c) (Device, UnsafeMutableRawPointer) -> Int32
    typealias GetTwoUInts = @convention(c) (Device, UnsafeMutablePointer<UInt32>, UnsafeMutablePointer<UInt32>) -> Int32
    typealias GetUInt = @convention(c) (Device, UnsafeMutablePointer<UInt32>) -> Int32
    typealias GetIndexedStruct = @convention(c) (Device, UInt32, UnsafeMutableRawPointer) -> Int32
    typealias GetPlacements =
        @convention(c) (Device, UInt32, UnsafeMutableRawPointer?, UnsafeMutablePointer<UInt32>) -> Int32
    typealias GetHandles =
        @convention(c) (Device, UInt32, UnsafeMutablePointer<Device>, UnsafeMutablePointer<UInt32>) -> Int32
    typealias GetIndexedHandle = @convention(c) (Device, UInt32, UnsafeMutablePointer<Device>) -> Int32
    typealias GetProcesses = @convention(c) (Device, UnsafeMutablePointer<UInt32>, UnsafeMutableRawPointer?) -> Int32
    typealias CreateWithPlacement =
        @convention(c) (Device, UInt32, UnsafeRawPointer, UnsafeMutablePointer<Device>) -> Int32
    typealias GetCIProfile = @convention(c) (Device, UInt32, UInt32, UnsafeMutableRawPointer) -> Int32
    typealias Destroy = @convention(c) (Device) -> Int32
    typealias SetMode = @convention(c) (Device, UInt32, UnsafeMutablePointer<Int32>) -> Int32

    /// Loads NVML and initializes it; nil (with the reason) when the library or the driver is not there.
    public static func load(path: String = "libnvidia-ml.so.1") -> Result<NVMLLibrary, ForbcError> {
        guard let library = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            let reason = dlerror().map { String(cString: $0) } ?? "not found"
            return .failure(ForbcError(.unsupported, "NVML is not available: dlopen('\(path)') failed: \(reason)"))
        }
        let nvml = NVMLLibrary(library: library)
        do {
            let initialize: Init = try nvml.symbol("nvmlInit_v2")
            try nvml.check("nvmlInit_v2", initialize())
        } catch let error as ForbcError {
            return .failure(error)
        } catch {
            return .failure(ForbcError(.system, "\(error)", cause: error))
        }
        return .success(nvml)
    }

    private init(library: UnsafeMutableRawPointer) { self.library = library }

    deinit {
        if let shutdown: Init = try? symbol("nvmlShutdown") { _ = shutdown() }
        dlclose(library)
    }

    public var summary: String { "NVML (libnvidia-ml.so.1)" }

    func symbol<T>(_ name: String) throws -> T {
        guard let pointer = dlsym(library, name) else {
            throw ForbcError(.unsupported, "NVML has no '\(name)'; the driver is too old for forbc's MIG support")
        }
        return unsafeBitCast(pointer, to: T.self)
    }

    func check(_ call: String, _ code: Int32) throws {
        guard code != 0 else { return }
        let text = (try? symbol("nvmlErrorString") as ErrorString).flatMap { $0(code) }.map { String(cString: $0) }
        throw NVMLReturn.error(call, code, detail: text)
    }

    func string(_ call: String, _ device: Device) throws -> String {
        let get: GetString = try symbol(call)
        var buffer = [CChar](repeating: 0, count: 256)
        try check(call, get(device, &buffer, UInt32(buffer.count)))
        return String(cString: buffer)
    }

    func handle(_ index: Int) throws -> Device {
        let get: GetHandle = try symbol("nvmlDeviceGetHandleByIndex_v2")
        var device: Device = nil
        try check("nvmlDeviceGetHandleByIndex_v2", get(UInt32(index), &device))
        return device
    }

    static func uint32(_ bytes: [UInt8], _ offset: Int) -> Int {
        Int(bytes[offset]) | Int(bytes[offset + 1]) << 8 | Int(bytes[offset + 2]) << 16 | Int(bytes[offset + 3]) << 24
    }

    static func uint64(_ bytes: [UInt8], _ offset: Int) -> Int {
        uint32(bytes, offset) | uint32(bytes, offset + 4) << 32
    }

    func bytes(_ count: Int, _ fill: (UnsafeMutableRawPointer) -> Int32, call: String) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        let code = buffer.withUnsafeMutableBytes { fill($0.baseAddress!) }
        try check(call, code)
        return buffer
    }

    // MARK: Reading

    public func devices() throws -> [String: MIGState] {
        try lock.withLock {
            let getCount: GetCount = try symbol("nvmlDeviceGetCount_v2")
            var count: UInt32 = 0
            try check("nvmlDeviceGetCount_v2", getCount(&count))
            var result: [String: MIGState] = [:]
            for index in 0..<Int(count) {
                let device = try handle(index)
                let (address, state) = try read(device, index: index)
                result[address] = state
            }
            return result
        }
    }

    func read(_ device: Device, index: Int) throws -> (String, MIGState) {
        let pci: GetStruct = try symbol("nvmlDeviceGetPciInfo_v3")
        // nvmlPciInfo_t: busIdLegacy[16], domain, bus, device, pciDeviceId, pciSubSystemId, busId[32] at 36.
        let info = try bytes(128, { pci(device, $0) }, call: "nvmlDeviceGetPciInfo_v3")
        let busID = String(decoding: info[36..<68].prefix { $0 != 0 }, as: UTF8.self).lowercased()
        let parts = busID.split(separator: ":")
        let address = parts.count == 3 ? "\(parts[0].suffix(4)):\(parts[1]):\(parts[2])" : busID
        let memoryInfo: GetStruct = try symbol("nvmlDeviceGetMemoryInfo")
        let memory = try bytes(24, { memoryInfo(device, $0) }, call: "nvmlDeviceGetMemoryInfo")
        var current: UInt32 = 0
        var pending: UInt32 = 0
        let migMode: GetTwoUInts = try symbol("nvmlDeviceGetMigMode")
        var profiles: [MIGProfile] = []
        var instances: [MIGInstance] = []
        let modeCode = migMode(device, &current, &pending)
        if modeCode == 0 {
            profiles = try readProfiles(device)
            if current == 1 { instances = try readInstances(device, profiles: profiles) }
        } else if modeCode != NVMLReturn.notSupported {
            try check("nvmlDeviceGetMigMode", modeCode)
        }
        let state = MIGState(
            index: index, uuid: try string("nvmlDeviceGetUUID", device), name: try string("nvmlDeviceGetName", device),
            memoryMiB: Self.uint64(memory, 0) / (1 << 20), currentMode: current == 1, pendingMode: pending == 1,
            profiles: profiles, instances: instances, processes: try processes(device))
        return (address, state)
    }

    /// Every GPU-instance profile index the driver knows (0 … 16); unsupported ones are skipped.
    func readProfiles(_ device: Device) throws -> [MIGProfile] {
        let info: GetIndexedStruct = try symbol("nvmlDeviceGetGpuInstanceProfileInfo")
        let placements: GetPlacements = try symbol("nvmlDeviceGetGpuInstancePossiblePlacements_v2")
        var profiles: [MIGProfile] = []
        for index in 0...16 {
            // nvmlGpuInstanceProfileInfo_t: id, isP2pSupported, sliceCount, instanceCount, multiprocessorCount,
            // copyEngineCount, decoderCount, encoderCount, jpegCount, ofaCount (UInt32 each), memorySizeMB (UInt64
            // at 40).
            var buffer = [UInt8](repeating: 0, count: 64)
            let code = buffer.withUnsafeMutableBytes { info(device, UInt32(index), $0.baseAddress!) }
            if code == NVMLReturn.notSupported || code == NVMLReturn.invalidArgument { continue }
            try check("nvmlDeviceGetGpuInstanceProfileInfo(\(index))", code)
            let id = Self.uint32(buffer, 0)
            let slices = Self.uint32(buffer, 8)
            let memory = Self.uint64(buffer, 40)
            var count: UInt32 = 0
            try check("nvmlDeviceGetGpuInstancePossiblePlacements_v2", placements(device, UInt32(id), nil, &count))
            var raw = [UInt8](repeating: 0, count: max(Int(count), 1) * 8)
            try check(
                "nvmlDeviceGetGpuInstancePossiblePlacements_v2",
                raw.withUnsafeMutableBytes { placements(device, UInt32(id), $0.baseAddress, &count) })
            let list = (0..<Int(count)).map {
                MIGPlacement(start: Self.uint32(raw, $0 * 8), size: Self.uint32(raw, $0 * 8 + 4))
            }
            profiles.append(
                MIGProfile(
                    index: index, id: id, name: MIGProfile.name(index: index, slices: slices, memoryMiB: memory),
                    slices: slices, instances: Self.uint32(buffer, 12), memoryMiB: memory,
                    multiprocessors: Self.uint32(buffer, 16), placements: list))
        }
        return profiles
    }

    func readInstances(_ device: Device, profiles: [MIGProfile]) throws -> [MIGInstance] {
        let getInstances: GetHandles = try symbol("nvmlDeviceGetGpuInstances")
        let getInfo: GetStruct = try symbol("nvmlGpuInstanceGetInfo")
        var instances: [MIGInstance] = []
        for profile in profiles {
            var handles = [Device](repeating: nil, count: 8)
            var count: UInt32 = 0
            try check("nvmlDeviceGetGpuInstances", getInstances(device, UInt32(profile.id), &handles, &count))
            for gi in handles.prefix(Int(count)) {
                // nvmlGpuInstanceInfo_t: device (pointer), id, profileId, placement {start, size}.
                let info = try bytes(32, { getInfo(gi, $0) }, call: "nvmlGpuInstanceGetInfo")
                instances.append(
                    MIGInstance(
                        id: Self.uint32(info, 8), profileID: Self.uint32(info, 12),
                        placement: MIGPlacement(start: Self.uint32(info, 16), size: Self.uint32(info, 20)), uuids: []))
            }
        }
        // MIG devices (one per compute instance) carry the UUIDs and the processes.
        let maxCount: GetUInt = try symbol("nvmlDeviceGetMaxMigDeviceCount")
        let migHandle: GetIndexedHandle = try symbol("nvmlDeviceGetMigDeviceHandleByIndex")
        let instanceID: GetUInt = try symbol("nvmlDeviceGetGpuInstanceId")
        var migCount: UInt32 = 0
        try check("nvmlDeviceGetMaxMigDeviceCount", maxCount(device, &migCount))
        for i in 0..<migCount {
            var mig: Device = nil
            if migHandle(device, i, &mig) != 0 { continue }
            var gi: UInt32 = 0
            try check("nvmlDeviceGetGpuInstanceId", instanceID(mig, &gi))
            if let k = instances.firstIndex(where: { $0.id == Int(gi) }) {
                instances[k].uuids.append(try string("nvmlDeviceGetUUID", mig))
                instances[k].processes += try processes(mig)
            }
        }
        return instances.sorted { $0.placement.start < $1.placement.start }
    }

    func processes(_ device: Device) throws -> Int {
        let get: GetProcesses = try symbol("nvmlDeviceGetComputeRunningProcesses_v3")
        var count: UInt32 = 0
        let code = get(device, &count, nil)
        // NVML_ERROR_INSUFFICIENT_SIZE: count now says how many there are.
        if code == 0 || code == 7 { return Int(count) }
        if code == NVMLReturn.notSupported { return 0 }
        try check("nvmlDeviceGetComputeRunningProcesses_v3", code)
        return 0
    }

    // MARK: Changing (never run on the lent GPU: forbc's rules forbid it there)

    public func createInstance(device index: Int, profileID: Int, placement: MIGPlacement, computeSlices: Int?) throws
        -> MIGInstance
    {
        try lock.withLock {
            let device = try handle(index)
            let create: CreateWithPlacement = try symbol("nvmlDeviceCreateGpuInstanceWithPlacement")
            var raw: [UInt32] = [UInt32(placement.start), UInt32(placement.size)]
            var gi: Device = nil
            try check(
                "nvmlDeviceCreateGpuInstanceWithPlacement",
                raw.withUnsafeMutableBytes { create(device, UInt32(profileID), $0.baseAddress!, &gi) })
            let profileSlices = try readProfiles(device).first { $0.id == profileID }?.slices ?? 1
            let slices = computeSlices ?? profileSlices
            // NVML_COMPUTE_INSTANCE_PROFILE_{1,2,3,4,7,8,6}_SLICE are indices 0…6.
            let ciIndex: [Int: UInt32] = [1: 0, 2: 1, 3: 2, 4: 3, 7: 4, 8: 5, 6: 6]
            guard let ci = ciIndex[slices] else {
                throw ForbcError(.invalidInput, "no compute-instance profile of \(slices) slices")
            }
            let ciInfo: GetCIProfile = try symbol("nvmlGpuInstanceGetComputeInstanceProfileInfo")
            let info = try bytes(64, { ciInfo(gi, ci, 0, $0) }, call: "nvmlGpuInstanceGetComputeInstanceProfileInfo")
            let createCI: GetIndexedHandle = try symbol("nvmlGpuInstanceCreateComputeInstance")
            for _ in 0..<max(1, profileSlices / slices) {
                var handle: Device = nil
                try check("nvmlGpuInstanceCreateComputeInstance", createCI(gi, UInt32(Self.uint32(info, 0)), &handle))
            }
            let getInfo: GetStruct = try symbol("nvmlGpuInstanceGetInfo")
            let created = try bytes(32, { getInfo(gi, $0) }, call: "nvmlGpuInstanceGetInfo")
            let id = Self.uint32(created, 8)
            return try readInstances(device, profiles: readProfiles(device)).first { $0.id == id }
                ?? MIGInstance(id: id, profileID: profileID, placement: placement, uuids: [])
        }
    }

    public func destroyInstance(device index: Int, instanceID: Int) throws {
        try lock.withLock {
            let device = try handle(index)
            let byID: GetIndexedHandle = try symbol("nvmlDeviceGetGpuInstanceById")
            var gi: Device = nil
            try check("nvmlDeviceGetGpuInstanceById", byID(device, UInt32(instanceID), &gi))
            let getCIs: GetHandles = try symbol("nvmlGpuInstanceGetComputeInstances")
            let destroyCI: Destroy = try symbol("nvmlComputeInstanceDestroy")
            for ciProfile in 0..<8 {
                var handles = [Device](repeating: nil, count: 8)
                var count: UInt32 = 0
                if getCIs(gi, UInt32(ciProfile), &handles, &count) != 0 { continue }
                for ci in handles.prefix(Int(count)) { try check("nvmlComputeInstanceDestroy", destroyCI(ci)) }
            }
            let destroy: Destroy = try symbol("nvmlGpuInstanceDestroy")
            try check("nvmlGpuInstanceDestroy", destroy(gi))
        }
    }

    public func setMIGMode(device index: Int, enabled: Bool) throws -> Bool {
        try lock.withLock {
            let device = try handle(index)
            let set: SetMode = try symbol("nvmlDeviceSetMigMode")
            var activation: Int32 = 0
            try check("nvmlDeviceSetMigMode", set(device, enabled ? 1 : 0, &activation))
            let mode: GetTwoUInts = try symbol("nvmlDeviceGetMigMode")
            var current: UInt32 = 0
            var pending: UInt32 = 0
            try check("nvmlDeviceGetMigMode", mode(device, &current, &pending))
            return current != pending
        }
    }

    /// NVML has no public reset call; `nvidia-smi --gpu-reset` is the documented way.
    public func resetGPU(device index: Int) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["nvidia-smi", "--gpu-reset", "-i", "\(index)"]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            throw ForbcError(
                .system,
                "nvidia-smi --gpu-reset -i \(index) failed (exit \(process.terminationStatus)): "
                    + "\(text.trimmingCharacters(in: .whitespacesAndNewlines))"
            )
        }
    }
}
