import ForbcCore
import Foundation

/// The built-in simulated hosts. Type catalogues follow the vendors' public documentation (NVIDIA's vGPU
/// user guide tables of virtual GPU types: names, frame buffer, maximum instances; Intel's GVT-g setup
/// guide; the kernel's mtty sample). Type ids that the documentation does not give are the simulator's own.
/// `nvidia-h100` is built from the real capture kept in Tests/Fixtures/nvidia-h100-80gb-hbm3.
public enum SimulatedProfiles {
    /// Every profile name, in the order the help lists them.
    public static let names = [
        "nvidia-t4", "nvidia-a40", "nvidia-l40s", "amd-mi210", "intel-gvtg", "nvidia-h100",
        "nvidia-a100-40gb", "nvidia-a100-80gb", "mtty", "qemu-nvme-sriov", "amd-mi300x", "intel-flex170",
        "nvidia-l40s-vgpu", "nvidia-a100-vgpu",
    ]

    public static func make(_ name: String) -> SimulatedHostModel? {
        switch name {
        case "nvidia-t4": nvidiaT4()
        case "nvidia-a40": nvidiaA40()
        case "nvidia-l40s": nvidiaL40S()
        case "amd-mi210": amdMI210()
        case "intel-gvtg": intelGVTg()
        case "nvidia-h100": nvidiaH100()
        case "nvidia-a100-40gb": nvidiaA100(memoryGiB: 40)
        case "nvidia-a100-80gb": nvidiaA100(memoryGiB: 80)
        case "mtty": mtty()
        case "qemu-nvme-sriov": qemuNVMe()
        case "amd-mi300x": amdMI300X()
        case "intel-flex170": intelFlex170()
        case "nvidia-l40s-vgpu": nvidiaL40SvGPU()
        case "nvidia-a100-vgpu": nvidiaA100vGPU()
        default: nil
        }
    }

    // MARK: NVIDIA time-sliced vGPU catalogues

    /// One series of NVIDIA vGPU types: the letter, its heads/frame-rate limit/resolution, and the frame buffer sizes.
    struct Series {
        let suffix: String
        let heads: Int
        let frl: Int
        let resolution: String
        let sizes: [(label: String, gib: Int)]
    }

    static func series(q: [Int], b: [(String, Int)], a: [Int], c: [Int]) -> [Series] {
        [
            Series(suffix: "Q", heads: 4, frl: 60, resolution: "7680x4320", sizes: q.map { ("\($0)", $0) }),
            Series(suffix: "B", heads: 4, frl: 45, resolution: "5120x2880", sizes: b),
            Series(suffix: "A", heads: 1, frl: 60, resolution: "1280x1024", sizes: a.map { ("\($0)", $0) }),
            Series(suffix: "C", heads: 1, frl: 60, resolution: "4096x2160", sizes: c.map { ("\($0)", $0) }),
        ]
    }

    /// NVIDIA's mdev catalogue: `name` "NVIDIA T4-4Q", description as the driver writes it, pool in GiB.
    static func nvidiaTypes(board: String, totalGiB: Int, firstID: Int, idPrefix: String, _ series: [Series])
        -> [SimMdevType]
    {
        var types: [SimMdevType] = []
        var id = firstID
        for s in series {
            for size in s.sizes {
                // "T4-2B4": a B-series type of 2 GiB with 4 heads; the letter sits between size and heads.
                let label = size.label.contains("B") ? size.label : "\(size.label)\(s.suffix)"
                let maxInstances = totalGiB / size.gib
                types.append(
                    SimMdevType(
                        id: "\(idPrefix)\(id)", name: "NVIDIA \(board)-\(label)",
                        description:
                            "num_heads=\(s.heads), frl_config=\(s.frl), framebuffer=\(size.gib * 1024)M, "
                            + "max_resolution=\(s.resolution), max_instance=\(maxInstances)",
                        cost: size.gib, maxInstances: maxInstances))
                id += 1
            }
        }
        return types
    }

    static let provenanceNVIDIA =
        "simulated; type names, frame buffer and maximum instances from NVIDIA's vGPU documentation, type ids are "
        + "the simulator's"

    /// Two Tesla T4 (16 GiB, Turing): mdev types on the physical function.
    static func nvidiaT4() -> SimulatedHostModel {
        let types = nvidiaTypes(
            board: "T4", totalGiB: 16, firstID: 222, idPrefix: "nvidia-",
            series(q: [1, 2, 4, 8, 16], b: [("1B", 1), ("2B", 2), ("2B4", 2)], a: [1, 2, 4, 8, 16], c: [4, 8, 16]))
        let gpus = [("0000:3b:00.0", 0, 40), ("0000:d8:00.0", 1, 80)].map { address, numa, group in
            SimDevice(
                address: address, vendor: "0x10de", device: "0x1eb8", subsystemVendor: "0x10de",
                subsystemDevice: "0x12a2",
                driver: "nvidia", numaNode: numa, iommuGroup: group, mdevTypes: types, pool: .homogeneous, poolUnits: 16
            )
        }
        return SimulatedHostModel(profile: "nvidia-t4", provenance: provenanceNVIDIA, devices: gpus)
    }

    /// The series NVIDIA documents for its 48 GiB data-centre boards (A40, L40S).
    static let series48GiB = series(
        q: [1, 2, 3, 4, 6, 8, 12, 16, 24, 48], b: [("1B", 1), ("2B", 2)],
        a: [1, 2, 3, 4, 6, 8, 12, 16, 24, 48], c: [4, 6, 8, 12, 16, 24, 48])

    /// One A40 (48 GiB, Ampere): SR-IOV enabled by the driver at boot (32 VFs), mdev types on each VF,
    /// one vGPU per VF, one type at a time per GPU.
    static func nvidiaA40() -> SimulatedHostModel {
        let types = nvidiaTypes(board: "A40", totalGiB: 48, firstID: 557, idPrefix: "nvidia-", series48GiB)
        let sriov = SimSRIOV(
            totalVFs: 32, numVFs: 32, vfDevice: "0x2235", offset: 4, stride: 1, vfDriver: "nvidia",
            vfMdevTypes: types, vfIOMMUGroupBase: 100)
        let gpu = SimDevice(
            address: "0000:41:00.0", vendor: "0x10de", device: "0x2235", subsystemVendor: "0x10de",
            subsystemDevice: "0x145a", driver: "nvidia", numaNode: 0, iommuGroup: 35, sriov: sriov,
            pool: .homogeneous, poolUnits: 48)
        return SimulatedHostModel(profile: "nvidia-a40", provenance: provenanceNVIDIA, devices: [gpu])
    }

    /// One L40S (48 GiB, Ada) with vGPU 17+: no mdev; each VF has nvidia/creatable_vgpu_types and
    /// nvidia/current_vgpu_type.
    static func nvidiaL40S() -> SimulatedHostModel {
        let types = nvidiaTypes(board: "L40S", totalGiB: 48, firstID: 1155, idPrefix: "", series48GiB)
        let sriov = SimSRIOV(
            totalVFs: 32, numVFs: 32, vfDevice: "0x26b9", offset: 4, stride: 1, vfDriver: "nvidia",
            vfVGPUTypes: types, vfIOMMUGroupBase: 200)
        let gpu = SimDevice(
            address: "0000:ca:00.0", vendor: "0x10de", device: "0x26b9", subsystemVendor: "0x10de",
            subsystemDevice: "0x1851", driver: "nvidia", numaNode: 1, iommuGroup: 60, sriov: sriov,
            pool: .homogeneous, poolUnits: 48)
        return SimulatedHostModel(profile: "nvidia-l40s", provenance: provenanceNVIDIA, devices: [gpu])
    }

    /// One Instinct MI210 with SR-IOV (MxGPU): VFs, no mdev.
    static func amdMI210() -> SimulatedHostModel {
        let sriov = SimSRIOV(
            totalVFs: 8, numVFs: 0, vfDevice: "0x7410", offset: 2, stride: 1, vfDriver: "amdgpu", vfIOMMUGroupBase: 300)
        let gpu = SimDevice(
            address: "0000:c3:00.0", vendor: "0x1002", device: "0x740f", subsystemVendor: "0x1002",
            subsystemDevice: "0x0c34", classCode: "0x038000", revision: "0x02", driver: "amdgpu", numaNode: 1,
            iommuGroup: 70, sriov: sriov, pool: .shared, poolUnits: 0)
        return SimulatedHostModel(
            profile: "amd-mi210",
            provenance: "simulated; SR-IOV semantics of the Linux kernel, VF count of AMD's MxGPU documentation",
            devices: [gpu])
    }

    /// Intel UHD 630 with GVT-g: i915-GVTg_V5_* types on 0000:00:02.0 sharing the graphics aperture.
    static func intelGVTg() -> SimulatedHostModel {
        let specs: [(Int, Int, Int, String, Int)] = [
            (1, 512, 2048, "1920x1200", 16), (2, 256, 1024, "1920x1200", 8),
            (4, 128, 512, "1920x1200", 4), (8, 64, 384, "1024x768", 2),
        ]
        let types = specs.map { n, low, high, resolution, weight in
            SimMdevType(
                id: "i915-GVTg_V5_\(n)", name: "GVTg_V5_\(n)",
                description:
                    "low_gm_size: \(low)MB\nhigh_gm_size: \(high)MB\nfence: 4\nresolution: \(resolution)\nweight: "
                    + "\(weight)",
                cost: 8 / n, maxInstances: n)
        }
        let igpu = SimDevice(
            address: "0000:00:02.0", vendor: "0x8086", device: "0x3e92", subsystemVendor: "0x1028",
            subsystemDevice: "0x0869", classCode: "0x030000", revision: "0x00", driver: "i915", numaNode: -1,
            iommuGroup: 1, mdevTypes: types, pool: .shared, poolUnits: 8)
        return SimulatedHostModel(
            profile: "intel-gvtg",
            provenance:
                "simulated; i915-GVTg_V5_* types after Intel's GVT-g setup guide, the aperture as one shared pool",
            devices: [igpu])
    }

    /// The real H100 80GB HBM3 captured in Tests/Fixtures/nvidia-h100-80gb-hbm3 (a VM's passthrough GPU): no mdev,
    /// no SR-IOV.
    static func nvidiaH100() -> SimulatedHostModel {
        let gpu = SimDevice(
            address: "0000:00:06.0", vendor: "0x10de", device: "0x2330", subsystemVendor: "0x10de",
            subsystemDevice: "0x16c1", classCode: "0x030200", revision: "0xa1", driver: "nvidia", numaNode: -1,
            iommuGroup: nil, pool: .homogeneous, poolUnits: 80)
        let nvml = SimNVMLDevice(
            address: gpu.address, index: 0, uuid: "GPU-0ac371be-ac08-bc04-b91a-57647d64c496",
            name: "NVIDIA H100 80GB HBM3", memoryMiB: 81559, profiles: MIGTables.h100HBM3x80GB)
        return SimulatedHostModel(
            profile: "nvidia-h100",
            provenance:
                "simulated from a real capture (an H100 80GB HBM3 passed through to a VM, driver 580.159.04; "
                + "Tests/Fixtures/nvidia-h100-80gb-hbm3)",
            devices: [gpu], nvml: [nvml])
    }

    /// Two A100 (SXM4, 40 or 80 GB) on bare metal: MIG through NVML; a mode change applies at once when idle.
    static func nvidiaA100(memoryGiB: Int) -> SimulatedHostModel {
        let device = memoryGiB == 40 ? "0x20b0" : "0x20b2"
        let addresses = ["0000:07:00.0", "0000:0f:00.0"]
        let devices = addresses.enumerated().map { i, address in
            SimDevice(
                address: address, vendor: "0x10de", device: device, subsystemVendor: "0x10de",
                subsystemDevice: memoryGiB == 40 ? "0x134f" : "0x1463",
                driver: "nvidia", numaNode: i, iommuGroup: 20 + i, pool: .homogeneous, poolUnits: memoryGiB)
        }
        let nvml = addresses.enumerated().map { i, address in
            SimNVMLDevice(
                address: address, index: i,
                uuid: "GPU-"
                    + UUIDv5.make(namespace: UUIDv5.forbcNamespace, name: "a100-\(memoryGiB)/\(i)").uuidString
                    .lowercased(),
                name: memoryGiB == 40 ? "NVIDIA A100-SXM4-40GB" : "NVIDIA A100-SXM4-80GB",
                memoryMiB: memoryGiB == 40 ? 40960 : 81920,
                modeChangeNeedsReset: false, profiles: memoryGiB == 40 ? MIGTables.a100x40GB : MIGTables.a100x80GB)
        }
        return SimulatedHostModel(
            profile: "nvidia-a100-\(memoryGiB)gb",
            provenance: "simulated; MIG profiles from NVIDIA's MIG user guide", devices: devices, nvml: nvml)
    }

    /// QEMU's NVMe controller with SR-IOV (2 VFs), as the kernel lab's guest has it: not a GPU, managed when a
    /// manifest names its address. VF offset and stride are QEMU's (hw/nvme: 1 and 1).
    static func qemuNVMe() -> SimulatedHostModel {
        let sriov = SimSRIOV(totalVFs: 2, numVFs: 0, vfDevice: "0x0010", offset: 1, stride: 1, vfDriver: nil)
        let nvme = SimDevice(
            address: "0000:01:00.0", vendor: "0x1b36", device: "0x0010", subsystemVendor: "0x1af4",
            subsystemDevice: "0x1100",
            classCode: "0x010802", revision: "0x02", driver: "nvme", numaNode: -1, iommuGroup: nil, sriov: sriov,
            pool: .shared)
        return SimulatedHostModel(
            profile: "qemu-nvme-sriov", provenance: "simulated; QEMU's NVMe SR-IOV as the kernel lab boots it",
            devices: [nvme])
    }

    /// The kernel's mtty sample driver: two types sharing 24 serial ports (mtty-1 one port, mtty-2 two).
    static func mtty() -> SimulatedHostModel {
        let types = [
            SimMdevType(id: "mtty-1", name: "Single port serial", description: "", cost: 1, maxInstances: 24),
            SimMdevType(id: "mtty-2", name: "Dual port serial", description: "", cost: 2, maxInstances: 12),
        ]
        return SimulatedHostModel(
            profile: "mtty", provenance: "simulated; the Linux kernel's samples/vfio-mdev/mtty.c",
            devices: [], virtualParents: [SimVirtualParent(name: "mtty", types: types, pool: .shared, poolUnits: 24)])
    }
}
