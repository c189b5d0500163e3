import ForbcCore
import ForbcSimulator

/// A large simulated host for the benchmark: GPUs with PF mdev types in a homogeneous pool big enough for
/// `perGPU` partitions each (a synthetic catalogue, not a real product).
public enum LargeHost {
    public static func model(gpus: Int, perGPU: Int) -> SimulatedHostModel {
        let types = [
            SimMdevType(
                id: "nvidia-900", name: "NVIDIA BENCH-1Q",
                description:
                    "num_heads=4, frl_config=60, framebuffer=1024M, max_resolution=7680x4320, max_instance=\(perGPU)",
                cost: 1, maxInstances: perGPU),
            SimMdevType(
                id: "nvidia-901", name: "NVIDIA BENCH-2Q",
                description:
                    "num_heads=4, frl_config=60, framebuffer=2048M, max_resolution=7680x4320, "
                    + "max_instance=\(perGPU / 2)",
                cost: 2, maxInstances: perGPU / 2),
        ]
        let devices = (0..<gpus).map { i in
            SimDevice(
                address: "0000:\(SimHex.byte(0x10 + i * 0x10)):00.0", vendor: "0x10de", device: "0x2235",
                subsystemVendor: "0x10de",
                subsystemDevice: "0x145a", driver: "nvidia", numaNode: i % 2, iommuGroup: 10 + i, mdevTypes: types,
                pool: .homogeneous, poolUnits: perGPU)
        }
        return SimulatedHostModel(
            profile: "large-\(gpus)x\(perGPU)", provenance: "synthetic benchmark host", devices: devices)
    }

    public static func manifest(gpus: Int, perGPU: Int) -> String {
        """
        apiVersion: forbc/v1
        kind: Host
        metadata: {name: large}
        spec:
          gpus:
            - select: {all: true}
              vgpu:
                - {name: p, type: BENCH-1Q, count: \(perGPU)}
        """
    }
}

enum SimHex {
    static func byte(_ value: Int) -> String {
        let text = String(value, radix: 16)
        return text.count == 1 ? "0" + text : text
    }
}
