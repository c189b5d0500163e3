/// What kind of partition something is, which decides the backend that makes it.
public enum PartitionKind: String, Sendable, Codable, Equatable {
    /// A mediated device under /sys/bus/mdev (NVIDIA vGPU up to 16, Intel GVT-g, mtty…).
    case mdev
    /// NVIDIA vGPU 17+ on an SR-IOV virtual function (`nvidia/current_vgpu_type`).
    case vgpuVF = "vgpu-vf"
    /// A plain SR-IOV virtual function (AMD MxGPU, Intel SR-IOV).
    case sriovVF = "sriov-vf"
    /// The whole GPU.
    case passthrough
    /// A MIG GPU instance.
    case mig
    /// NVIDIA MPS on the whole GPU: one control daemon forbc runs for it.
    case mps
    /// An AMD Instinct compute partition (XCP): a device of its own on the host, made by the GPU's compute
    /// partition mode (amdgpu's `current_compute_partition`).
    case amdXCP = "amd-xcp"
}

/// A partition as the manifest resolves on this host: its name, where it lives and its identity.
public struct DesiredPartition: Sendable, Equatable, Codable {
    public var name: String
    public var kind: PartitionKind
    /// The GPU's PCI address (or the mdev parent's name for non-PCI parents).
    public var gpu: String
    /// The mdev UUID or the vGPU's identity (UUIDv5 of host and name, unless pinned).
    public var uuid: String?
    /// The resolved type id ("nvidia-230", "1160", "mtty-2").
    public var type: String?
    public var typeName: String?
    /// The PCI address that a VM gets (VF, or the whole GPU), once known.
    public var address: String?
    /// The mdev parent holding it, once known.
    public var parent: String?
    /// MIG: the start slot of the GPU instance. Mixed-size vGPU: the placement ID.
    public var placement: Int?
    /// Mixed-size vGPU: whether NVML's read-back confirmed `placement` (`OwnedPartition.placementConfirmed`).
    public var placementConfirmed: Bool?
    /// MIG: the slices of each compute instance (nil: one over the whole GPU instance).
    public var computeSlices: Int?
    /// MIG: how many compute instances of `computeSlices` (nil: as many as fit).
    public var computeCount: Int?
    /// MIG: compute instances of these sizes (instead of `computeSlices`).
    public var computeInstances: [Int]?
    /// How a workload reaches it on the host ("CUDA_VISIBLE_DEVICES=MIG-…"), when known; for MPS two
    /// assignments, "CUDA_VISIBLE_DEVICES=GPU-… CUDA_MPS_PIPE_DIRECTORY=PATH" (see `accessEnvironment`).
    public var access: String?
    /// MPS: the daemon's defaults and the co-tenants the partition is meant for.
    public var mps: MPSSettings?
    public var clients: Int?

    /// `access` as environment variables: assignments `NAME=VALUE` separated by a space, a new one starting
    /// where a space is followed by an upper-case `NAME=` (so a value may hold spaces, not " NAME=").
    public var accessEnvironment: [String: String] {
        guard let access else { return [:] }
        var environment: [String: String] = [:]
        var pieces: [String] = []
        for word in access.split(separator: " ", omittingEmptySubsequences: false).map(String.init) {
            let name = word.prefix { $0 != "=" }
            let starts = word.contains("=") && !name.isEmpty && name.allSatisfy { $0.isUppercase || $0 == "_" }
            if starts || pieces.isEmpty { pieces.append(word) } else { pieces[pieces.count - 1] += " " + word }
        }
        for piece in pieces {
            guard let eq = piece.firstIndex(of: "=") else { continue }
            environment[String(piece[..<eq])] = String(piece[piece.index(after: eq)...])
        }
        return environment
    }
}

/// What apply checks right before an action, and how it recognizes that the action's result already holds.
public enum Precondition: Sendable, Equatable {
    /// Create: no mdev with this UUID yet (if one of the type exists, nothing to do), and a free instance.
    case mdevAbsent(uuid: String, parent: String, type: String)
    /// Destroy: the mdev exists (if it is gone, nothing to do).
    case mdevPresent(uuid: String)
    /// Configure: `sriov_numvfs` still reads `current` (if it reads the target, nothing to do).
    case numVFs(pf: String, current: Int)
    /// vGPU on VF: `current_vgpu_type` still reads `current`.
    case vgpuType(vf: String, current: Int)
    /// Attach (present: false) or detach (present: true): the domain's definitions in `scope` still
    /// (do not) hold the hostdev; a definition that already matches is left alone.
    case attachment(domain: String, hostdev: Hostdev, scope: AttachScope, present: Bool)
    /// MIG mode: set it to `enabled` unless it already is (or is pending so).
    case migMode(device: Int, gpu: String, enabled: Bool)
    /// Create a GPU instance at this placement unless one of the profile is already there.
    case migAbsent(
        device: Int, gpu: String, profileID: Int, placement: MIGPlacement, computeSlices: Int?, computeCount: Int?,
        computeInstances: [Int]? = nil)
    /// Destroy the GPU instance of the profile at this placement, if it is still there.
    case migPresent(device: Int, gpu: String, profileID: Int, placement: MIGPlacement)
    /// Relabel: the GPU instance of the profile at this placement is still there; only the state dir changes.
    case migKept(device: Int, gpu: String, profileID: Int, placement: MIGPlacement)
    /// Start the MPS daemon of the GPU of this UUID and set its defaults, unless one already gives them.
    case mpsAbsent(gpu: String, settings: MPSSettings)
    /// Set the defaults of the running daemon (it still runs; if it already gives them, nothing to do).
    case mpsSettings(gpu: String, wanted: MPSSettings)
    /// Quit the daemon, if it still runs.
    case mpsPresent(gpu: String)
    /// A driver attribute holding one word (an AMD partition mode, an Intel VF quota): write it unless it already
    /// reads the value; it must still read `current` (nil: whatever it reads, e.g. after a driver reload).
    case attribute(path: String, current: String?)
    /// Unbind (`to` nil) or bind (`to` the driver) a PCI device: it must still be bound to `from`; nothing to do
    /// when it already is bound to `to`.
    case driverBinding(device: String, from: String?, to: String?)
    /// Set the GPU's vGPU scheduler (through NVML) unless it already schedules so; `timesliceNs` 0: the default.
    case vgpuScheduler(device: Int, gpu: String, policy: VGPUSchedulerPolicy, timesliceNs: Int)
    /// Turn the GPU's mixed-size (heterogeneous) vGPU mode on or off (through NVML) unless it already is.
    case vgpuMode(device: Int, gpu: String, heterogeneous: Bool)
    /// A relabel with nothing on the host to re-read (a whole GPU under a new name): forbc's records alone change.
    case stateOnly
}

/// One step of a plan.
public struct PlannedAction: Sendable, Equatable {
    public enum Verb: String, Sendable, Codable {
        case detach, destroy, configure, create, attach
        /// A state-only step: an existing partition is kept under a new name; no hardware changes.
        case relabel
    }

    public var action: Verb
    /// The partition name (or, for undeclared partitions, their UUID or address).
    public var target: String
    public var reason: String
    public var kind: PartitionKind
    public var gpu: String?
    public var parent: String?
    public var type: String?
    public var typeName: String?
    public var uuid: String?
    public var address: String?
    /// The attribute written and the value, exactly.
    public var path: String
    public var value: String
    public var precondition: Precondition
    /// What the state dir records once this action is done (nil: nothing new), and which record it drops.
    public var records: [OwnedPartition]
    public var forgets: [String]
    /// For attach and detach: the domain, the hostdev and the definitions touched.
    public var domain: String?
    public var hostdev: Hostdev?
    public var scope: AttachScope?
    /// Attachments the state dir records or drops once this action is done.
    public var attachmentRecords: [OwnedAttachment]
    public var attachmentForgets: [OwnedAttachment]
    /// A `configure` step that takes partitions away or reloads a driver (an AMD compute mode with fewer
    /// partitions, an unbind): as disruptive as a destroy, so apply asks for it and `--partitions-only` refuses it.
    public var disrupts = false

    public init(
        action: Verb, target: String, reason: String, kind: PartitionKind, gpu: String? = nil, parent: String? = nil,
        type: String? = nil, typeName: String? = nil, uuid: String? = nil, address: String? = nil,
        path: String, value: String, precondition: Precondition, records: [OwnedPartition] = [], forgets: [String] = [],
        domain: String? = nil, hostdev: Hostdev? = nil, scope: AttachScope? = nil,
        attachmentRecords: [OwnedAttachment] = [], attachmentForgets: [OwnedAttachment] = []
    ) {
        self.action = action
        self.target = target
        self.reason = reason
        self.kind = kind
        self.gpu = gpu
        self.parent = parent
        self.type = type
        self.typeName = typeName
        self.uuid = uuid
        self.address = address
        self.path = path
        self.value = value
        self.precondition = precondition
        self.records = records
        self.forgets = forgets
        self.domain = domain
        self.hostdev = hostdev
        self.scope = scope
        self.attachmentRecords = attachmentRecords
        self.attachmentForgets = attachmentForgets
    }
}

/// The ordered actions that converge a host on a manifest, and the partitions it will then hold.
public struct Plan: Sendable, Equatable {
    public var host: String
    public var simulated: Bool
    public var actions: [PlannedAction]
    public var partitions: [DesiredPartition]
    /// The attachments the manifest declares, as they will be.
    public var attachments: [OwnedAttachment] = []
    public var prune: PrunePolicy
    /// Where the manifest came from (git provenance), which apply records in the state dir.
    public var source: ManifestSource?
    /// What the plan could not check, or records without an action (plan, drift and apply show them).
    public var notes: [String] = []

    public init(
        host: String, simulated: Bool, actions: [PlannedAction], partitions: [DesiredPartition], prune: PrunePolicy
    ) {
        self.host = host
        self.simulated = simulated
        self.actions = actions
        self.partitions = partitions
        self.prune = prune
    }

    public var isEmpty: Bool { actions.isEmpty }
    /// The steps that destroy partitions: destroys, `sriov_numvfs` set to 0, and the `configure` steps that take
    /// partitions away or reload a driver (`disrupts`).
    public var destroys: [PlannedAction] {
        actions.filter { $0.action == .destroy || $0.disrupts || ($0.action == .configure && $0.value == "0") }
    }

    /// Detaches from a running domain's live definition: the guest loses a device while it runs.
    public var liveDetaches: [PlannedAction] {
        actions.filter { action in
            if action.action == .detach, case .attachment(_, _, let scope, _) = action.precondition {
                return scope.live
            }
            return false
        }
    }
}
