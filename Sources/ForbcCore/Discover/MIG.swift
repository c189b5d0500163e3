/// MIG as NVML shows it: per GPU, the mode, the GPU-instance profiles with their placements, the instances.

/// A start slot and a size, in the GPU's memory slices (8 on A100 and H100).
public struct MIGPlacement: Sendable, Codable, Hashable, CustomStringConvertible {
    public var start: Int
    public var size: Int

    public init(start: Int, size: Int) {
        self.start = start
        self.size = size
    }

    /// The slots as a bit mask. A placement NVML (or a saved simulated host) reports beyond 32 slots, or with a
    /// negative start or size, takes every slot: it never fits beside another, and the arithmetic never traps.
    public var mask: UInt32 {
        guard size != 0 else { return 0 }
        guard (0..<32).contains(start), (1...(32 - start)).contains(size) else { return .max }
        let bits: UInt32 = size == 32 ? .max : (1 << UInt32(size)) - 1
        return bits << UInt32(start)
    }
    public var description: String { "\(start):\(size)" }
}

/// A GPU-instance profile (nvmlGpuInstanceProfileInfo_t, with the name nvidia-smi shows).
public struct MIGProfile: Sendable, Codable, Equatable, Hashable {
    /// NVML_GPU_INSTANCE_PROFILE_* index (0 = 1 slice, 7 = 1 slice REV1 "+me", 9 = 1 slice REV2 …).
    public var index: Int
    /// The profile id instances carry (19 for 1g.10gb on H100).
    public var id: Int
    /// "1g.10gb", "1g.10gb+me", "7g.80gb".
    public var name: String
    /// Compute slices.
    public var slices: Int
    /// How many instances of this profile the GPU allows.
    public var instances: Int
    public var memoryMiB: Int
    public var multiprocessors: Int
    /// Where instances may start, and how many memory slices each takes.
    public var placements: [MIGPlacement]

    public init(
        index: Int, id: Int, name: String, slices: Int, instances: Int, memoryMiB: Int, multiprocessors: Int,
        placements: [MIGPlacement]
    ) {
        self.index = index
        self.id = id
        self.name = name
        self.slices = slices
        self.instances = instances
        self.memoryMiB = memoryMiB
        self.multiprocessors = multiprocessors
        self.placements = placements
    }

    /// nvidia-smi's name: slices "g." memory rounded up to GiB "gb", and the suffix of the profile index.
    public static func name(index: Int, slices: Int, memoryMiB: Int) -> String {
        let gib = (memoryMiB + 1023) / 1024
        let suffix =
            switch index {
            case 7, 8: "+me"  // *_REV1: with media extensions
            case 10, 11, 12: "+gfx"
            case 13, 14: "-me"
            case 15, 16: "+me.all"
            default: ""
            }
        return "\(slices)g.\(gib)gb\(suffix)"
    }
}

/// An existing GPU instance and its compute instances.
public struct MIGInstance: Sendable, Codable, Equatable {
    /// The GPU instance id the driver gave it.
    public var id: Int
    public var profileID: Int
    public var placement: MIGPlacement
    /// One UUID per compute instance ("MIG-…"): what CUDA_VISIBLE_DEVICES takes.
    public var uuids: [String]
    /// Compute processes running on it.
    public var processes: Int
    /// The sizes (compute slices) of its compute instances, largest first; nil when not read.
    public var computeSizes: [Int]?

    public init(
        id: Int, profileID: Int, placement: MIGPlacement, uuids: [String], processes: Int = 0,
        computeSizes: [Int]? = nil
    ) {
        self.id = id
        self.profileID = profileID
        self.placement = placement
        self.uuids = uuids
        self.processes = processes
        self.computeSizes = computeSizes
    }
}

/// MIG on one GPU.
public struct MIGState: Sendable, Codable, Equatable {
    /// NVML's device index.
    public var index: Int
    /// The GPU's UUID ("GPU-…").
    public var uuid: String
    public var name: String
    public var memoryMiB: Int
    public var currentMode: Bool
    public var pendingMode: Bool
    public var profiles: [MIGProfile]
    public var instances: [MIGInstance]
    /// Compute processes on the whole GPU.
    public var processes: Int

    public init(
        index: Int, uuid: String, name: String, memoryMiB: Int, currentMode: Bool, pendingMode: Bool,
        profiles: [MIGProfile], instances: [MIGInstance], processes: Int
    ) {
        self.index = index
        self.uuid = uuid
        self.name = name
        self.memoryMiB = memoryMiB
        self.currentMode = currentMode
        self.pendingMode = pendingMode
        self.profiles = profiles
        self.instances = instances
        self.processes = processes
    }

    public func profile(named name: String) -> MIGProfile? { profiles.first { $0.name == name } }
    public func profile(id: Int) -> MIGProfile? { profiles.first { $0.id == id } }
}
