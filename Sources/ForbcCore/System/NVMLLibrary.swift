import CNVML
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The real NVML, loaded with dlopen("libnvidia-ml.so.1") at run time: no link-time dependency, so a host
/// without NVIDIA's driver simply has no MIG capability. Entry points are resolved by name with dlsym and typed
/// by the `NAME_fn` pointer types of Sources/CNVML/forbc_nvml.h (NVML's published API: its structs are read by
/// field, not at byte offsets); every nvmlReturn_t is checked; nvmlShutdown runs when the library is released.
/// `FORBC_NVML_LIBRARY` names another library file (the C mock in Tests/NVMLMock, for tests).
public final class NVMLLibrary: NVMLChannel, @unchecked Sendable {
    private let library: UnsafeMutableRawPointer
    private let path: String
    let lock = NSLock()

    typealias Device = nvmlDevice_t?

    /// The library file: `FORBC_NVML_LIBRARY` when set, else NVIDIA's soname.
    public static var defaultPath: String {
        ProcessInfo.processInfo.environment["FORBC_NVML_LIBRARY"].flatMap { $0.isEmpty ? nil : $0 }
            ?? "libnvidia-ml.so.1"
    }

    /// Loads NVML and initializes it; nil (with the reason) when the library or the driver is not there.
    public static func load(path: String = defaultPath) -> Result<NVMLLibrary, ForbcError> {
        guard let library = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            let reason = dlerror().map { String(cString: $0) } ?? "not found"
            return .failure(ForbcError(.unsupported, "NVML is not available: dlopen('\(path)') failed: \(reason)"))
        }
        let nvml = NVMLLibrary(library: library, path: path)
        do {
            let initialize = try nvml.symbol("nvmlInit_v2", nvmlInit_v2_fn.self)
            try nvml.check("nvmlInit_v2", initialize())
        } catch let error as ForbcError {
            return .failure(error)
        } catch {
            return .failure(ForbcError(.system, "\(error)", cause: error))
        }
        return .success(nvml)
    }

    private init(library: UnsafeMutableRawPointer, path: String) {
        self.library = library
        self.path = path
    }

    deinit {
        if let shutdown = try? symbol("nvmlShutdown", nvmlShutdown_fn.self) { _ = shutdown() }
        dlclose(library)
    }

    public var summary: String { "NVML (\(path))" }

    /// The entry point `name`, typed by its pointer type from forbc_nvml.h.
    func symbol<T>(_ name: String, _ type: T.Type) throws -> T {
        guard let pointer = dlsym(library, name) else {
            throw ForbcError(.unsupported, "NVML has no '\(name)'; the driver is too old for forbc's MIG support")
        }
        return unsafeBitCast(pointer, to: T.self)
    }

    func check(_ call: String, _ code: nvmlReturn_t) throws {
        guard code != NVML_SUCCESS else { return }
        let text = (try? symbol("nvmlErrorString", nvmlErrorString_fn.self)).flatMap { $0(code) }.map {
            String(cString: $0)
        }
        throw NVMLReturn.error(call, code, detail: text)
    }

    /// A string an NVML getter writes into a buffer (UUID, name).
    func string(_ call: String, _ get: (UnsafeMutablePointer<CChar>, UInt32) -> nvmlReturn_t) throws -> String {
        var buffer = [CChar](repeating: 0, count: Int(NVML_DEVICE_UUID_V2_BUFFER_SIZE))
        try check(call, get(&buffer, UInt32(buffer.count)))
        return String(cString: buffer)
    }

    func uuid(_ device: Device) throws -> String {
        let get = try symbol("nvmlDeviceGetUUID", nvmlDeviceGetUUID_fn.self)
        return try string("nvmlDeviceGetUUID") { get(device, $0, $1) }
    }

    func handle(_ index: Int) throws -> Device {
        let get = try symbol("nvmlDeviceGetHandleByIndex_v2", nvmlDeviceGetHandleByIndex_v2_fn.self)
        var device: Device = nil
        try check("nvmlDeviceGetHandleByIndex_v2", get(UInt32(index), &device))
        return device
    }

    /// A C `char[N]` field as a String.
    static func text<T>(_ field: T) -> String {
        withUnsafeBytes(of: field) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    // MARK: Reading

    public func devices() throws -> [String: MIGState] {
        try lock.withLock {
            let getCount = try symbol("nvmlDeviceGetCount_v2", nvmlDeviceGetCount_v2_fn.self)
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
        var pci = nvmlPciInfo_t()
        try check(
            "nvmlDeviceGetPciInfo_v3",
            try symbol("nvmlDeviceGetPciInfo_v3", nvmlDeviceGetPciInfo_v3_fn.self)(device, &pci))
        let busID = Self.text(pci.busId).lowercased()
        let parts = busID.split(separator: ":")
        let address = parts.count == 3 ? "\(parts[0].suffix(4)):\(parts[1]):\(parts[2])" : busID
        var memory = nvmlMemory_t()
        let memoryInfo = try symbol("nvmlDeviceGetMemoryInfo", nvmlDeviceGetMemoryInfo_fn.self)
        try check("nvmlDeviceGetMemoryInfo", memoryInfo(device, &memory))
        var current: UInt32 = 0
        var pending: UInt32 = 0
        let migMode = try symbol("nvmlDeviceGetMigMode", nvmlDeviceGetMigMode_fn.self)
        var profiles: [MIGProfile] = []
        var instances: [MIGInstance] = []
        let modeCode = migMode(device, &current, &pending)
        if modeCode == NVML_SUCCESS {
            profiles = try readProfiles(device)
            if current == UInt32(NVML_DEVICE_MIG_ENABLE) { instances = try readInstances(device, profiles: profiles) }
        } else if modeCode != NVML_ERROR_NOT_SUPPORTED {
            try check("nvmlDeviceGetMigMode", modeCode)
        }
        let getName = try symbol("nvmlDeviceGetName", nvmlDeviceGetName_fn.self)
        let state = MIGState(
            index: index, uuid: try uuid(device), name: try string("nvmlDeviceGetName") { getName(device, $0, $1) },
            memoryMiB: Int(memory.total >> 20), currentMode: current == UInt32(NVML_DEVICE_MIG_ENABLE),
            pendingMode: pending == UInt32(NVML_DEVICE_MIG_ENABLE), profiles: profiles, instances: instances,
            processes: try processes(device))
        return (address, state)
    }

    /// Every GPU-instance profile index the driver knows (0 … 16); unsupported ones are skipped.
    func readProfiles(_ device: Device) throws -> [MIGProfile] {
        let info = try symbol("nvmlDeviceGetGpuInstanceProfileInfo", nvmlDeviceGetGpuInstanceProfileInfo_fn.self)
        var profiles: [MIGProfile] = []
        for index in 0..<Int(NVML_GPU_INSTANCE_PROFILE_COUNT) {
            var profile = nvmlGpuInstanceProfileInfo_t()
            let code = info(device, UInt32(index), &profile)
            if code == NVML_ERROR_NOT_SUPPORTED || code == NVML_ERROR_INVALID_ARGUMENT { continue }
            try check("nvmlDeviceGetGpuInstanceProfileInfo(\(index))", code)
            let (slices, memory) = (Int(profile.sliceCount), Int(profile.memorySizeMB))
            profiles.append(
                MIGProfile(
                    index: index, id: Int(profile.id),
                    name: MIGProfile.name(index: index, slices: slices, memoryMiB: memory), slices: slices,
                    instances: Int(profile.instanceCount), memoryMiB: memory,
                    multiprocessors: Int(profile.multiprocessorCount),
                    placements: try placements(device, profileID: profile.id)))
        }
        return profiles
    }

    /// The placements a GPU-instance profile may take (asked for the count first, then filled).
    func placements(_ device: Device, profileID: UInt32) throws -> [MIGPlacement] {
        let call = "nvmlDeviceGetGpuInstancePossiblePlacements_v2"
        let get = try symbol(call, nvmlDeviceGetGpuInstancePossiblePlacements_v2_fn.self)
        var count: UInt32 = 0
        try check(call, get(device, profileID, nil, &count))
        var list = [nvmlGpuInstancePlacement_t](repeating: nvmlGpuInstancePlacement_t(), count: max(Int(count), 1))
        try check(call, get(device, profileID, &list, &count))
        return list.prefix(Int(count)).map { MIGPlacement(start: Int($0.start), size: Int($0.size)) }
    }

    func readInstances(_ device: Device, profiles: [MIGProfile]) throws -> [MIGInstance] {
        let getInstances = try symbol("nvmlDeviceGetGpuInstances", nvmlDeviceGetGpuInstances_fn.self)
        let getInfo = try symbol("nvmlGpuInstanceGetInfo", nvmlGpuInstanceGetInfo_fn.self)
        var instances: [MIGInstance] = []
        for profile in profiles {
            var handles = [nvmlGpuInstance_t?](repeating: nil, count: 8)
            var count: UInt32 = 0
            try check("nvmlDeviceGetGpuInstances", getInstances(device, UInt32(profile.id), &handles, &count))
            for gi in handles.prefix(Int(count)) {
                var info = nvmlGpuInstanceInfo_t()
                try check("nvmlGpuInstanceGetInfo", getInfo(gi, &info))
                instances.append(
                    MIGInstance(
                        id: Int(info.id), profileID: Int(info.profileId),
                        placement: MIGPlacement(start: Int(info.placement.start), size: Int(info.placement.size)),
                        uuids: [], computeSizes: try computeSizes(gi)))
            }
        }
        try readMIGDevices(device, into: &instances)
        return instances.sorted { $0.placement.start < $1.placement.start }
    }

    /// The sizes of a GPU instance's compute instances (per compute-instance profile), largest first.
    func computeSizes(_ gi: nvmlGpuInstance_t?) throws -> [Int] {
        let getCIs = try symbol("nvmlGpuInstanceGetComputeInstances", nvmlGpuInstanceGetComputeInstances_fn.self)
        var sizes: [Int] = []
        for (slices, profile) in Self.computeProfiles {
            var handles = [nvmlComputeInstance_t?](repeating: nil, count: 8)
            var count: UInt32 = 0
            if getCIs(gi, profile, &handles, &count) != NVML_SUCCESS { continue }
            sizes += Array(repeating: slices, count: Int(count))
        }
        return sizes.sorted(by: >)
    }

    /// MIG devices (one per compute instance) carry the UUIDs and the processes.
    func readMIGDevices(_ device: Device, into instances: inout [MIGInstance]) throws {
        let maxCount = try symbol("nvmlDeviceGetMaxMigDeviceCount", nvmlDeviceGetMaxMigDeviceCount_fn.self)
        let migHandle = try symbol("nvmlDeviceGetMigDeviceHandleByIndex", nvmlDeviceGetMigDeviceHandleByIndex_fn.self)
        let instanceID = try symbol("nvmlDeviceGetGpuInstanceId", nvmlDeviceGetGpuInstanceId_fn.self)
        var migCount: UInt32 = 0
        try check("nvmlDeviceGetMaxMigDeviceCount", maxCount(device, &migCount))
        for i in 0..<migCount {
            var mig: Device = nil
            if migHandle(device, i, &mig) != NVML_SUCCESS { continue }
            var gi: UInt32 = 0
            try check("nvmlDeviceGetGpuInstanceId", instanceID(mig, &gi))
            if let k = instances.firstIndex(where: { $0.id == Int(gi) }) {
                instances[k].uuids.append(try uuid(mig))
                instances[k].processes += try processes(mig)
            }
        }
    }

    func processes(_ device: Device) throws -> Int {
        let call = "nvmlDeviceGetComputeRunningProcesses_v3"
        let get = try symbol(call, nvmlDeviceGetComputeRunningProcesses_v3_fn.self)
        var count: UInt32 = 0
        let code = get(device, &count, nil)
        // NVML_ERROR_INSUFFICIENT_SIZE: count now says how many there are.
        if code == NVML_SUCCESS || code == NVML_ERROR_INSUFFICIENT_SIZE { return Int(count) }
        if code == NVML_ERROR_NOT_SUPPORTED { return 0 }
        try check(call, code)
        return 0
    }

    // MARK: Changing (never run on the lent GPU: forbc's rules forbid it there)

    public func createInstance(
        device index: Int, profileID: Int, placement: MIGPlacement, computeSlices: Int?, computeCount: Int?,
        computeInstances: [Int]?
    ) throws -> MIGInstance {
        try lock.withLock {
            let device = try handle(index)
            let create = try symbol(
                "nvmlDeviceCreateGpuInstanceWithPlacement", nvmlDeviceCreateGpuInstanceWithPlacement_fn.self)
            var raw = nvmlGpuInstancePlacement_t(start: UInt32(placement.start), size: UInt32(placement.size))
            var gi: nvmlGpuInstance_t?
            try check("nvmlDeviceCreateGpuInstanceWithPlacement", create(device, UInt32(profileID), &raw, &gi))
            let profileSlices = try readProfiles(device).first { $0.id == profileID }?.slices ?? 1
            let sizes = MIGLayout.computeSizes(
                each: computeSlices, count: computeCount, listed: computeInstances, in: profileSlices)
            // Largest first: the driver places each where it fits.
            for size in sizes.sorted(by: >) { try createComputeInstances(gi, slices: size, count: 1) }
            var created = nvmlGpuInstanceInfo_t()
            try check(
                "nvmlGpuInstanceGetInfo",
                try symbol("nvmlGpuInstanceGetInfo", nvmlGpuInstanceGetInfo_fn.self)(gi, &created))
            let id = Int(created.id)
            return try readInstances(device, profiles: readProfiles(device)).first { $0.id == id }
                ?? MIGInstance(id: id, profileID: profileID, placement: placement, uuids: [])
        }
    }

    /// NVML_COMPUTE_INSTANCE_PROFILE_* index of a compute instance of this many slices.
    static let computeProfiles: [Int: UInt32] = [
        1: UInt32(NVML_COMPUTE_INSTANCE_PROFILE_1_SLICE), 2: UInt32(NVML_COMPUTE_INSTANCE_PROFILE_2_SLICE),
        3: UInt32(NVML_COMPUTE_INSTANCE_PROFILE_3_SLICE), 4: UInt32(NVML_COMPUTE_INSTANCE_PROFILE_4_SLICE),
        7: UInt32(NVML_COMPUTE_INSTANCE_PROFILE_7_SLICE), 8: UInt32(NVML_COMPUTE_INSTANCE_PROFILE_8_SLICE),
        6: UInt32(NVML_COMPUTE_INSTANCE_PROFILE_6_SLICE),
    ]

    /// `count` compute instances of `slices` slices each over a new GPU instance.
    func createComputeInstances(_ gi: nvmlGpuInstance_t?, slices: Int, count: Int) throws {
        guard let ci = Self.computeProfiles[slices] else {
            throw ForbcError(.invalidInput, "no compute-instance profile of \(slices) slices")
        }
        let call = "nvmlGpuInstanceGetComputeInstanceProfileInfo"
        var info = nvmlComputeInstanceProfileInfo_t()
        let getInfo = try symbol(call, nvmlGpuInstanceGetComputeInstanceProfileInfo_fn.self)
        try check(call, getInfo(gi, ci, UInt32(NVML_COMPUTE_INSTANCE_ENGINE_PROFILE_SHARED), &info))
        let createCI = try symbol(
            "nvmlGpuInstanceCreateComputeInstance", nvmlGpuInstanceCreateComputeInstance_fn.self)
        for _ in 0..<count {
            var handle: nvmlComputeInstance_t?
            try check("nvmlGpuInstanceCreateComputeInstance", createCI(gi, info.id, &handle))
        }
    }

    public func destroyInstance(device index: Int, instanceID: Int) throws {
        try lock.withLock {
            let device = try handle(index)
            let byID = try symbol("nvmlDeviceGetGpuInstanceById", nvmlDeviceGetGpuInstanceById_fn.self)
            var gi: nvmlGpuInstance_t?
            try check("nvmlDeviceGetGpuInstanceById", byID(device, UInt32(instanceID), &gi))
            let getCIs = try symbol("nvmlGpuInstanceGetComputeInstances", nvmlGpuInstanceGetComputeInstances_fn.self)
            let destroyCI = try symbol("nvmlComputeInstanceDestroy", nvmlComputeInstanceDestroy_fn.self)
            for ciProfile in 0..<UInt32(NVML_COMPUTE_INSTANCE_PROFILE_COUNT) {
                var handles = [nvmlComputeInstance_t?](repeating: nil, count: 8)
                var count: UInt32 = 0
                if getCIs(gi, ciProfile, &handles, &count) != NVML_SUCCESS { continue }
                for ci in handles.prefix(Int(count)) { try check("nvmlComputeInstanceDestroy", destroyCI(ci)) }
            }
            let destroy = try symbol("nvmlGpuInstanceDestroy", nvmlGpuInstanceDestroy_fn.self)
            try check("nvmlGpuInstanceDestroy", destroy(gi))
        }
    }

    public func setMIGMode(device index: Int, enabled: Bool) throws -> Bool {
        try lock.withLock {
            let device = try handle(index)
            let set = try symbol("nvmlDeviceSetMigMode", nvmlDeviceSetMigMode_fn.self)
            var activation: nvmlReturn_t = NVML_SUCCESS
            let mode = UInt32(enabled ? NVML_DEVICE_MIG_ENABLE : NVML_DEVICE_MIG_DISABLE)
            try check("nvmlDeviceSetMigMode", set(device, mode, &activation))
            let get = try symbol("nvmlDeviceGetMigMode", nvmlDeviceGetMigMode_fn.self)
            var current: UInt32 = 0
            var pending: UInt32 = 0
            try check("nvmlDeviceGetMigMode", get(device, &current, &pending))
            return current != pending
        }
    }

    /// NVML has no public reset call; `nvidia-smi --gpu-reset` is the documented way, run through `Spawn` (found
    /// in `PATH`) in a process group of its own: a Ctrl-C at forbc's terminal does not cut a reset short. Stopped
    /// after `resetTimeout` seconds (a reset takes seconds; one that hangs must not hang forbc).
    public func resetGPU(device index: Int) throws {
        let arguments = ["--gpu-reset", "-i", "\(index)"]
        let shown = "nvidia-smi " + arguments.joined(separator: " ")
        let environment = ProcessInfo.processInfo.environment
        guard let executable = Spawn.lookUp("nvidia-smi", path: environment["PATH"] ?? "/usr/bin:/bin") else {
            throw ForbcError(.unsupported, "cannot run '\(shown)': 'nvidia-smi' is not in PATH", errno: ENOENT)
        }
        let result: Spawn.Result
        do {
            result = try Spawn.run(
                Spawn.Request(
                    executable: executable, arguments: arguments, environment: environment,
                    timeout: Self.resetTimeout, grace: 5))
        } catch {
            throw ForbcError(.system, "'\(shown)' \(Self.words(error))")
        }
        guard result.end == .exited(0) else { throw ForbcError(.system, Self.resetFailure(shown, result)) }
    }

    /// A failed reset in words: its end and what it printed. nvidia-smi prints its reasons ("in use by another
    /// process") on standard output, so both outputs are quoted, each trimmed and at most `quoted` characters.
    static func resetFailure(_ shown: String, _ result: Spawn.Result) -> String {
        let parts = [("stdout", result.stdout), ("stderr", result.stderr)].compactMap { name, bytes -> String? in
            let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard !text.isEmpty else { return nil }
            let cut = text.count > quoted ? String(text.prefix(quoted)) + "… (\(text.count) characters)" : text
            return "\(name): \(cut)"
        }
        return "\(shown) failed (\(result.end))"
            + (parts.isEmpty ? "; it printed nothing" : ": " + parts.joined(separator: "; "))
    }

    /// The most characters of each output that a failed reset's message quotes.
    static let quoted = 2000

    /// Seconds `nvidia-smi --gpu-reset` may take.
    static let resetTimeout = 300.0

    /// A spawn failure in words, after the command's name.
    static func words(_ failure: Spawn.Failure) -> String {
        switch failure {
        case .notStarted(let reason, _): "could not be started: \(reason)"
        case .timedOut: "did not end within \(Int(resetTimeout)) s and was stopped"
        case .outputNotEnded: "ended but its output did not; it was stopped"
        case .waitFailed(let code): "ended with a status that could not be read: \(String(cString: strerror(code)))"
        case .notEnded(let pid): "\(Spawn.Failure.notEndedWords(pid))"
        }
    }
}
