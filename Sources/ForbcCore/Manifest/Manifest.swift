/// A parsed, statically valid forbc/v1 manifest: what a host should look like.
public struct Manifest: Sendable, Equatable {
    public static let apiVersion = "forbc/v1"

    public var file: String
    /// A stable hash of the manifest's text: the first 16 hex digits (8 bytes) of the SHA-1 of the file's UTF-8
    /// text (`ManifestWalker.hash`); benchmark results record it as `manifestHash`. An identity, not a checksum
    /// to trust against tampering.
    public var contentHash: String
    public var name: String
    public var gpus: [GPUSpec]
    public var vms: [VMSpec]
    public var benchmarks: [BenchmarkSpec]
    public var prune: PrunePolicy
    public var pruneLocation: SourceLocation?
    /// Where the file came from when it sits in a git work tree (set by the command that read it, not parsed).
    public var source: ManifestSource?

    public init(
        file: String, contentHash: String = "", name: String, gpus: [GPUSpec] = [], vms: [VMSpec] = [],
        benchmarks: [BenchmarkSpec] = [], prune: PrunePolicy = .managed, pruneLocation: SourceLocation? = nil
    ) {
        self.file = file
        self.contentHash = contentHash
        self.name = name
        self.gpus = gpus
        self.vms = vms
        self.benchmarks = benchmarks
        self.prune = prune
        self.pruneLocation = pruneLocation
    }
}

/// What apply may destroy that the manifest does not declare.
public enum PrunePolicy: String, Sendable, Codable, CaseIterable {
    /// Destroy only partitions forbc created and the manifest no longer declares (the default).
    case managed
    /// Destroy nothing that is not declared.
    case none
    /// Also destroy undeclared partitions forbc did not create, on the GPUs the manifest selects.
    case all
}

/// How a `gpus[]` entry picks GPUs (or mdev parents) on the host.
public enum GPUSelector: Sendable, Equatable, CustomStringConvertible {
    case pciAddress(String)
    /// Case-insensitive substring of the model name.
    case model(String)
    case vendor(Vendor)
    /// The N-th GPU in PCI-address order.
    case index(Int)
    case all
    /// An mdev parent by its name under /sys/class/mdev_bus (for parents that are not PCI GPUs).
    case parent(String)

    public var description: String {
        switch self {
        case .pciAddress(let a): "{pciAddress: '\(a)'}"
        case .model(let m): "{model: '\(m)'}"
        case .vendor(let v): "{vendor: \(v.rawValue)}"
        case .index(let i): "{index: \(i)}"
        case .all: "{all: true}"
        case .parent(let p): "{parent: '\(p)'}"
        }
    }

    /// Whether this selector can match at most one GPU, so partition numbering is known without a host.
    var matchesAtMostOne: Bool {
        switch self {
        case .pciAddress, .index, .parent: true
        default: false
        }
    }
}

/// One `spec.gpus[]` entry.
public struct GPUSpec: Sendable, Equatable {
    public var select: GPUSelector
    public var vgpu: [VGPUSpec]
    public var mig: [MIGSpec]
    /// MIG mode as declared: true with `mig` (even an empty list) or `migMode: enabled`, false with
    /// `migMode: disabled`, nil when the entry leaves the mode alone.
    public var migMode: Bool?
    public var sriov: SRIOVSpec?
    public var passthrough: PassthroughSpec?
    /// An MPS control daemon on the whole GPU (exclusive with the other kinds).
    public var mps: MPSSpec?
    /// AMD Instinct compute and memory partition modes.
    public var amdPartition: AMDPartitionSpec?
    /// NVIDIA's vGPU scheduler of the GPU (with `vgpu`, or alone).
    public var vgpuScheduler: VGPUSchedulerSpec? = nil
    /// NVIDIA's time-sliced vGPU mode of the GPU (equal-size or mixed-size), when declared.
    public var vgpuMode: VGPUModeSpec? = nil
    public var location: SourceLocation
    public var index: Int

    public init(
        select: GPUSelector, vgpu: [VGPUSpec] = [], mig: [MIGSpec] = [], sriov: SRIOVSpec? = nil,
        passthrough: PassthroughSpec? = nil, migMode: Bool? = nil, mps: MPSSpec? = nil,
        amdPartition: AMDPartitionSpec? = nil, location: SourceLocation, index: Int
    ) {
        self.select = select
        self.vgpu = vgpu
        self.mig = mig
        self.migMode = migMode ?? (mig.isEmpty ? nil : true)
        self.sriov = sriov
        self.passthrough = passthrough
        self.mps = mps
        self.amdPartition = amdPartition
        self.location = location
        self.index = index
    }
}

/// A mediated (mdev) or VF-based NVIDIA vGPU partition request.
public struct VGPUSpec: Sendable, Equatable {
    public var name: String
    /// A type id ("nvidia-558"), the type's exact name, or for NVIDIA the name without "NVIDIA ".
    public var type: String
    public var count: Int
    /// A pinned UUID (only with count 1), lower case; otherwise UUIDv5(host, name).
    public var uuid: String?
    public var location: SourceLocation
    /// Where the pinned UUID is written.
    public var uuidLocation: SourceLocation?
}

/// A MIG GPU-instance request (planned by the MIG backend).
public struct MIGSpec: Sendable, Equatable {
    public var name: String
    public var profile: String
    public var count: Int
    public var placement: Int?
    /// Compute instances of this many slices each, as many as fit in the GPU instance; nil: one over all of it.
    public var computeSlices: Int?
    /// How many compute instances of `computeSlices` (nil: as many as fit).
    public var computeCount: Int?
    /// Compute instances of these sizes (slices each; mixed sizes allowed), instead of `computeSlices`.
    public var computeInstances: [Int]?
    public var location: SourceLocation
}

/// SR-IOV virtual functions on a physical function.
public struct SRIOVSpec: Sendable, Equatable {
    public var name: String
    public var vfs: Int
    public var location: SourceLocation
    /// Resources provisioned for each VF before the VFs are enabled (Intel); nil: the driver provisions them.
    public var perVF: VFProvisioning? = nil
}

/// The whole GPU as one partition.
public struct PassthroughSpec: Sendable, Equatable {
    public var name: String
    public var location: SourceLocation
}

/// NVIDIA's Multi-Process Service on one whole GPU: one control daemon (`nvidia-cuda-mps-control -d`) that forbc
/// starts with its pipe and log directories under the state dir, and the defaults it gives new MPS servers.
public struct MPSSpec: Sendable, Equatable {
    public var name: String
    /// How many co-tenant processes the partition is meant for: a benchmark suite on it runs that many copies of
    /// each workload at once unless the suite sets `tenants` itself.
    public var clients: Int
    /// `set_default_active_thread_percentage`: the share of the GPU's SMs a client may use (1 to 100).
    public var activeThreadPercentage: Int
    /// `set_default_device_pinned_mem_limit 0 VALUE`: the device memory a client may allocate ("2G", "512M").
    public var pinnedMemoryLimit: String?
    public var location: SourceLocation

    public init(
        name: String, clients: Int, activeThreadPercentage: Int, pinnedMemoryLimit: String? = nil,
        location: SourceLocation
    ) {
        self.name = name
        self.clients = clients
        self.activeThreadPercentage = activeThreadPercentage
        self.pinnedMemoryLimit = pinnedMemoryLimit
        self.location = location
    }
}

/// A libvirt domain and the partitions it should hold.
public struct VMSpec: Sendable, Equatable {
    public var domain: String
    public var attach: [String]
    public var attachLocations: [SourceLocation]
    public var live: Bool
    public var location: SourceLocation
}

/// A benchmark suite run on some partitions after apply.
public struct BenchmarkSpec: Sendable, Equatable {
    public var suite: String
    public var on: [String]
    public var onLocations: [SourceLocation]
    public var workloads: [String]
    public var repetitions: Int
    /// Copies of each workload run at once on each target, behind one barrier (co-tenants).
    public var tenants: Int = 1
    /// `timing: wall-window`: a lone tenant is timed as co-tenants are (calls counted in a common wall-clock
    /// window), so that a baseline of one tenant divides co-tenants' rates by the same method. False (`auto`):
    /// co-tenants are windowed, a lone tenant times itself (CUDA events or the host's clock).
    public var wallWindow = false
    public var location: SourceLocation
    /// Domains the suite runs in by name, without a partition (the "without" baseline of a VM topology).
    public var vms: [String] = []
    public var vmLocations: [SourceLocation] = []
}

/// GPU vendors forbc knows, by PCI vendor id.
public enum Vendor: String, Sendable, Codable, CaseIterable {
    case nvidia, amd, intel
    /// A PCI function of another vendor, inventoried because a manifest names its address (an SR-IOV NIC or NVMe).
    case other

    /// The vendors a manifest may select by name.
    public static let selectable: [Vendor] = [.nvidia, .amd, .intel]

    public init?(pciVendorID: UInt16) {
        switch pciVendorID {
        case 0x10de: self = .nvidia
        case 0x1002: self = .amd
        case 0x8086: self = .intel
        default: return nil
        }
    }
}
