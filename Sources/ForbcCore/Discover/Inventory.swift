import Foundation

/// What discovery found on a host: GPUs, their partitioning capabilities and the partitions that exist.
public struct Inventory: Sendable, Codable, Equatable {
    public var gpus: [GPU]
    /// Every mdev parent: GPUs, their virtual functions, and parents that are not PCI GPUs (mtty).
    public var mdevParents: [MdevParent]
    public var mdevs: [MediatedDevice]
    /// True when read from a simulated host.
    public var simulated: Bool
    /// Where it was read from, for people.
    public var source: String
    /// libvirt's domains with their hostdevs, when the hypervisor was consulted.
    public var domains: [Domain]?
    /// The libvirt URI the domains came from.
    public var hypervisor: String?
    /// MPS on the GPUs whose UUID is known: where each one's daemon has (or would have) its pipe directory, and
    /// the daemons that answer; nil where forbc does not manage MPS (a sysfs under '--root').
    public var mps: MPSInventory?

    public init(
        gpus: [GPU] = [], mdevParents: [MdevParent] = [], mdevs: [MediatedDevice] = [], simulated: Bool = false,
        source: String = ""
    ) {
        self.gpus = gpus
        self.mdevParents = mdevParents
        self.mdevs = mdevs
        self.simulated = simulated
        self.source = source
    }

    public func gpu(_ address: String) -> GPU? { gpus.first { $0.address == address } }
    public func parent(_ name: String) -> MdevParent? { mdevParents.first { $0.name == name } }
    public func mdev(_ uuid: String) -> MediatedDevice? { mdevs.first { $0.uuid == uuid } }
    public func domain(_ name: String) -> Domain? { domains?.first { $0.name == name } }
    /// The MPS daemon running for the GPU of this UUID.
    public func mpsDaemon(_ uuid: String) -> MPSDaemon? { mps?.daemons.first { $0.gpuUUID == uuid } }
}

/// What discovery found of MPS.
public struct MPSInventory: Sendable, Codable, Equatable {
    /// GPU UUID → its daemon's pipe directory (`CUDA_MPS_PIPE_DIRECTORY`).
    public var pipeDirectories: [String: String]
    public var daemons: [MPSDaemon]

    public init(pipeDirectories: [String: String] = [:], daemons: [MPSDaemon] = []) {
        self.pipeDirectories = pipeDirectories
        self.daemons = daemons
    }
}

/// A PCI display device of NVIDIA, AMD or Intel (a physical function).
public struct GPU: Sendable, Codable, Equatable {
    public var address: String
    public var vendor: Vendor
    public var vendorID: String
    public var deviceID: String
    public var subsystemID: String?
    /// The marketing name where forbc knows the device id, else "VENDOR device 0xID".
    public var model: String
    public var driver: String?
    public var numaNode: Int?
    public var iommuGroup: Int?
    public var sriov: SRIOVState?
    public var vfs: [VirtualFunction]
    /// Whether the physical function itself offers mdev types.
    public var isMdevParent: Bool
    /// MIG through NVML, when NVML knows this GPU.
    public var mig: MIGState?
    /// AMD Instinct compute and memory partition modes, when amdgpu offers them for this GPU.
    public var amdPartition: AMDPartitionState? = nil
    /// Intel SR-IOV VF provisioning (i915's `prelim_iov/` or `iov/`), when the driver offers it.
    public var iov: IOVProvisioningState? = nil
    /// NVIDIA's vGPU scheduler through NVML, where the vGPU manager reports one.
    public var vgpuScheduler: VGPUSchedulerState? = nil
    /// The vGPU types NVML supports on the GPU, MIG-backed ones with their GPU-instance profile.
    public var vgpuTypes: [NVMLVGPUType]? = nil
    /// Mixed-size (heterogeneous) vGPU mode and the placements of each type, where NVML reports them.
    public var vgpuPlacements: VGPUPlacementState? = nil

    /// Every mdev parent name that belongs to this GPU: itself and its VFs.
    public var parentNames: [String] {
        (isMdevParent ? [address] : []) + vfs.filter(\.isMdevParent).map(\.address)
    }
}

/// SR-IOV of a physical function.
public struct SRIOVState: Sendable, Codable, Equatable {
    public var totalVFs: Int
    public var numVFs: Int
    /// `sriov_offset` and `sriov_stride`: where VF routing ids start, so VF addresses are known before enabling.
    public var offset: Int?
    public var stride: Int?

    /// The address VF `index` will have; nil when offset or stride is unknown, or the VF would lie beyond bus ff.
    public func vfAddress(of pf: String, index: Int) -> String? {
        guard let offset, let stride else { return nil }
        return PCIAddressMath.vf(pf, offset: offset, stride: stride, index: index)
    }
}

/// A virtual function of a GPU.
public struct VirtualFunction: Sendable, Codable, Equatable {
    public var address: String
    /// Its N in the PF's `virtfnN` link.
    public var index: Int
    public var driver: String?
    public var isMdevParent: Bool
    /// NVIDIA vGPU 17+ on this VF (`nvidia/creatable_vgpu_types`, `nvidia/current_vgpu_type`).
    public var vgpu: VFvGPU?
}

/// NVIDIA's VF-based vGPU state of one VF.
public struct VFvGPU: Sendable, Codable, Equatable {
    public var creatable: [VGPUType]
    /// The type id in use, 0 when none.
    public var current: Int
    /// `nvidia/gpu_instance_id`: the GPU instance a MIG-backed vGPU on the VF lives on (the driver fills it in).
    public var gpuInstance: Int? = nil
}

/// One line of `creatable_vgpu_types`: "ID : NAME".
public struct VGPUType: Sendable, Codable, Equatable, Hashable {
    public var id: Int
    public var name: String

    public init(id: Int, name: String) {
        self.id = id
        self.name = name
    }
}

/// A device under /sys/class/mdev_bus.
public struct MdevParent: Sendable, Codable, Equatable {
    public var name: String
    /// The PF this parent belongs to (itself, or the PF of a VF); nil for non-PCI parents.
    public var gpu: String?
    public var isVF: Bool
    public var types: [MdevType]
}

/// One entry of mdev_supported_types.
public struct MdevType: Sendable, Codable, Equatable {
    public var id: String
    public var name: String
    public var description: String
    public var availableInstances: Int
    public var deviceAPI: String

    /// NVIDIA descriptions carry "max_instance=N"; the pool size of a homogeneous GPU.
    public var maxInstances: Int? { Self.field("max_instance", in: description) }
    /// NVIDIA descriptions carry "framebuffer=2048M".
    public var framebufferMiB: Int? {
        Self.rawField("framebuffer", in: description).flatMap { Int($0.trimmingCharacters(in: .letters)) }
    }

    static func rawField(_ key: String, in text: String) -> String? {
        for part in text.split(whereSeparator: { $0 == "," || $0 == "\n" }) {
            let pair = part.split(separator: "=", maxSplits: 1)
            if pair.count == 2, pair[0].trimmingCharacters(in: .whitespaces) == key {
                return pair[1].trimmingCharacters(in: .whitespaces)
            }
        }
        return nil
    }

    /// A number of the description; one outside an unsigned int (what the driver prints) is no number, so that
    /// the pool arithmetic never overflows.
    static func field(_ key: String, in text: String) -> Int? {
        rawField(key, in: text).flatMap { Int($0) }.flatMap { (0...Int(UInt32.max)).contains($0) ? $0 : nil }
    }
}

/// An existing mediated device.
public struct MediatedDevice: Sendable, Codable, Equatable {
    public var uuid: String
    public var parent: String
    public var type: String
}
