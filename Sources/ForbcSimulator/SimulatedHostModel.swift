import ForbcCore
import Foundation

/// The state of a simulated host: its devices, type catalogues, pools and the partitions that exist.
/// Persisted as JSON in the state dir so that one command sees what the previous one did.
public struct SimulatedHostModel: Sendable, Codable, Equatable {
    public var profile: String
    /// Where the profile's numbers come from, shown to users.
    public var provenance: String
    public var devices: [SimDevice]
    public var virtualParents: [SimVirtualParent]
    /// The mdevs that exist, in creation order. Assigning the list rebuilds `mdevIndex`; the write handlers use
    /// `addMdev`/`removeMdev`, which keep it in step at O(1) per device.
    public var mdevs: [SimMdev] {
        get { storedMdevs }
        set {
            storedMdevs = newValue
            mdevIndex = MdevIndex(newValue)
        }
    }
    private var storedMdevs: [SimMdev] = []
    /// Derived from `mdevs` (not saved): lookups by UUID and counts per parent and type.
    private(set) var mdevIndex = MdevIndex([])
    /// VF address → NVIDIA vGPU type id in `current_vgpu_type`.
    public var vgpus: [String: Int]
    /// VF address → the placement ID its vGPU took in mixed-size mode.
    public var vgpuPlacements: [String: Int]?
    /// The VFs whose vGPU a running VM uses: NVML's "active" vGPU instances (nvmlDeviceGetActiveVgpus lists only
    /// these). The simulated hypervisor (libvirt's test driver, a separate file) does not reach the simulated NVML,
    /// so this is set explicitly (tests, `SimulatedKernel.mutate`); a VF whose vGPU type is written leaves it.
    public var activeVGPUs: Set<String> = []
    public var faults: [SimFault]
    /// NVML devices (GPUs with MIG), when the profile has them.
    public var nvml: [SimNVMLDevice]
    /// The MPS control daemons that run, one per GPU at most (by GPU UUID).
    public var mps: [SimMPSDaemon]
    /// The process id the next simulated daemon gets (each start a new one, as a real restart).
    public var nextMPSPID = 4000

    public init(
        profile: String, provenance: String, devices: [SimDevice], virtualParents: [SimVirtualParent] = [],
        mdevs: [SimMdev] = [], vgpus: [String: Int] = [:], faults: [SimFault] = [], nvml: [SimNVMLDevice] = [],
        mps: [SimMPSDaemon] = []
    ) {
        self.profile = profile
        self.provenance = provenance
        self.devices = devices
        self.virtualParents = virtualParents
        self.vgpus = vgpus
        self.faults = faults
        self.nvml = nvml
        self.mps = mps
        self.mdevs = mdevs
    }
}

/// How a pool of partition capacity behaves.
public enum SimPoolKind: String, Sendable, Codable {
    /// NVIDIA time-sliced vGPU: one type at a time per physical GPU; other types show 0 available.
    case homogeneous
    /// Any mix of types, sharing `units` (Intel GVT-g aperture, mtty ports).
    case shared
}

/// A physical PCI function.
public struct SimDevice: Sendable, Codable, Equatable {
    public var address: String
    public var vendor: String
    public var device: String
    public var subsystemVendor: String
    public var subsystemDevice: String
    public var classCode: String
    public var revision: String
    public var driver: String?
    public var numaNode: Int
    public var iommuGroup: Int?
    /// mdev types offered by the physical function itself.
    public var mdevTypes: [SimMdevType]
    public var sriov: SimSRIOV?
    public var pool: SimPoolKind
    /// Capacity units of the pool (framebuffer GiB for NVIDIA).
    public var poolUnits: Int
    /// AMD Instinct compute and memory partition modes (amdgpu), when the device has them.
    public var amd: SimAMDPartition? = nil
    /// Intel SR-IOV VF provisioning (i915's `prelim_iov/`), when the device has it.
    public var iov: SimIOV? = nil

    public init(
        address: String, vendor: String, device: String, subsystemVendor: String, subsystemDevice: String,
        classCode: String = "0x030200", revision: String = "0xa1", driver: String?, numaNode: Int, iommuGroup: Int?,
        mdevTypes: [SimMdevType] = [], sriov: SimSRIOV? = nil, pool: SimPoolKind = .homogeneous, poolUnits: Int = 0
    ) {
        self.address = address
        self.vendor = vendor
        self.device = device
        self.subsystemVendor = subsystemVendor
        self.subsystemDevice = subsystemDevice
        self.classCode = classCode
        self.revision = revision
        self.driver = driver
        self.numaNode = numaNode
        self.iommuGroup = iommuGroup
        self.mdevTypes = mdevTypes
        self.sriov = sriov
        self.pool = pool
        self.poolUnits = poolUnits
    }
}

/// SR-IOV capability of a physical function and what its VFs offer.
public struct SimSRIOV: Sendable, Codable, Equatable {
    public var totalVFs: Int
    public var numVFs: Int
    public var vfDevice: String
    /// First VF's routing-id offset and the stride between VFs, as the PCIe capability says.
    public var offset: Int
    public var stride: Int
    public var vfDriver: String?
    /// mdev types each VF offers (NVIDIA Ampere: one vGPU per VF).
    public var vfMdevTypes: [SimMdevType]
    /// NVIDIA vGPU 17+ types each VF offers through `nvidia/creatable_vgpu_types`.
    public var vfVGPUTypes: [SimMdevType]
    /// MIG-backed vGPU types the VFs offer while MIG mode is on (A100/H100 with vGPU).
    public var vfMIGBackedTypes: [SimMIGBackedType]?
    public var vfIOMMUGroupBase: Int?

    public init(
        totalVFs: Int, numVFs: Int, vfDevice: String, offset: Int, stride: Int, vfDriver: String?,
        vfMdevTypes: [SimMdevType] = [], vfVGPUTypes: [SimMdevType] = [], vfIOMMUGroupBase: Int? = nil
    ) {
        self.totalVFs = totalVFs
        self.numVFs = numVFs
        self.vfDevice = vfDevice
        self.offset = offset
        self.stride = stride
        self.vfDriver = vfDriver
        self.vfMdevTypes = vfMdevTypes
        self.vfVGPUTypes = vfVGPUTypes
        self.vfIOMMUGroupBase = vfIOMMUGroupBase
    }
}

/// An mdev type (or VF vGPU type) in a catalogue.
public struct SimMdevType: Sendable, Codable, Equatable {
    public var id: String
    public var name: String
    public var description: String
    public var deviceAPI: String
    /// Units of the pool one instance takes.
    public var cost: Int
    public var maxInstances: Int

    public init(
        id: String, name: String, description: String, deviceAPI: String = "vfio-pci", cost: Int, maxInstances: Int
    ) {
        self.id = id
        self.name = name
        self.description = description
        self.deviceAPI = deviceAPI
        self.cost = cost
        self.maxInstances = maxInstances
    }
}

/// An mdev parent that is not a PCI device (the kernel's mtty sample).
public struct SimVirtualParent: Sendable, Codable, Equatable {
    public var name: String
    public var types: [SimMdevType]
    public var pool: SimPoolKind
    public var poolUnits: Int

    public init(name: String, types: [SimMdevType], pool: SimPoolKind, poolUnits: Int) {
        self.name = name
        self.types = types
        self.pool = pool
        self.poolUnits = poolUnits
    }
}

/// An existing simulated mdev.
public struct SimMdev: Sendable, Codable, Equatable {
    public var uuid: String
    public var parent: String
    public var type: String
}

/// What the simulated kernel looks up on every access, indexed: mdevs by UUID, and per parent the count of each
/// type (the kernel keeps such lists per parent too; scanning every mdev made each step linear).
struct MdevIndex: Sendable, Equatable {
    var byUUID: [String: SimMdev] = [:]
    var typesByParent: [String: [String: Int]] = [:]

    init(_ mdevs: [SimMdev]) {
        for mdev in mdevs { add(mdev) }
    }

    mutating func add(_ mdev: SimMdev) {
        byUUID[mdev.uuid] = mdev
        typesByParent[mdev.parent, default: [:]][mdev.type, default: 0] += 1
    }

    mutating func remove(_ mdev: SimMdev) {
        byUUID[mdev.uuid] = nil
        typesByParent[mdev.parent]?[mdev.type]? -= 1
        if typesByParent[mdev.parent]?[mdev.type] == 0 { typesByParent[mdev.parent]?[mdev.type] = nil }
        if typesByParent[mdev.parent]?.isEmpty == true { typesByParent[mdev.parent] = nil }
    }

    /// Whether `parent` holds any mdev.
    func holds(_ parent: String) -> Bool { typesByParent[parent] != nil }
}

extension SimulatedHostModel {
    // The index is derived, not saved: encoding and equality (synthesized) use the mdevs under their saved name;
    // decoding goes through `init` so the index is rebuilt.
    enum CodingKeys: String, CodingKey {
        case profile, provenance, devices, virtualParents, vgpus, faults, nvml, mps, nextMPSPID, vgpuPlacements
        case activeVGPUs
        case storedMdevs = "mdevs"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            profile: try c.decode(String.self, forKey: .profile),
            provenance: try c.decode(String.self, forKey: .provenance),
            devices: try c.decode([SimDevice].self, forKey: .devices),
            virtualParents: try c.decode([SimVirtualParent].self, forKey: .virtualParents),
            mdevs: try c.decode([SimMdev].self, forKey: .storedMdevs),
            vgpus: try c.decode([String: Int].self, forKey: .vgpus),
            faults: try c.decode([SimFault].self, forKey: .faults),
            nvml: try c.decode([SimNVMLDevice].self, forKey: .nvml),
            mps: try c.decodeIfPresent([SimMPSDaemon].self, forKey: .mps) ?? [])
        nextMPSPID = try c.decodeIfPresent(Int.self, forKey: .nextMPSPID) ?? nextMPSPID
        vgpuPlacements = try c.decodeIfPresent([String: Int].self, forKey: .vgpuPlacements)
        activeVGPUs = try c.decodeIfPresent(Set<String>.self, forKey: .activeVGPUs) ?? []
    }

    /// Creates an mdev (the `create` handler).
    mutating func addMdev(_ mdev: SimMdev) {
        storedMdevs.append(mdev)
        mdevIndex.add(mdev)
    }

    /// Removes an mdev (the `remove` handler).
    mutating func removeMdev(_ uuid: String) {
        guard let mdev = mdevIndex.byUUID[uuid] else { return }
        storedMdevs.removeAll { $0.uuid == uuid }
        mdevIndex.remove(mdev)
    }
}

/// A write the simulated kernel will refuse: at a path (any write there), or the N-th write from now.
public struct SimFault: Sendable, Codable, Equatable {
    public var path: String?
    /// 1-based ordinal of the write to fail, counted from when the fault was added.
    public var writeOrdinal: Int?
    public var errno: Int32
    /// How many more times it fires; nil for always.
    public var remaining: Int?

    public init(path: String? = nil, writeOrdinal: Int? = nil, errno: Int32, remaining: Int? = 1) {
        self.path = path
        self.writeOrdinal = writeOrdinal
        self.errno = errno
        self.remaining = remaining
    }
}
