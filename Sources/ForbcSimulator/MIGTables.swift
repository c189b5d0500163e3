import ForbcCore
import Foundation

/// MIG GPU-instance profile tables. The H100 80GB HBM3 table is the real capture's
/// (Tests/Fixtures/nvidia-h100-80gb-hbm3: nvml.txt and `nvidia-smi mig -lgip/-lgipp`; a test checks it against
/// them); the A100 tables follow NVIDIA's MIG user guide (profile ids, slices, instance counts, placements, SM
/// counts), with memory sizes as NVML reports them to the best of the guide's numbers.
public enum MIGTables {
    static func profile(
        _ index: Int, _ id: Int, _ slices: Int, _ instances: Int, _ memoryMiB: Int, _ multiprocessors: Int,
        _ starts: [Int], _ size: Int
    ) -> MIGProfile {
        MIGProfile(
            index: index, id: id, name: MIGProfile.name(index: index, slices: slices, memoryMiB: memoryMiB),
            slices: slices,
            instances: instances, memoryMiB: memoryMiB, multiprocessors: multiprocessors,
            placements: starts.map { MIGPlacement(start: $0, size: size) })
    }

    /// NVIDIA H100 80GB HBM3, from the real capture (NVML profile indices 0–4, 7, 9).
    public static let h100HBM3x80GB: [MIGProfile] = [
        profile(0, 19, 1, 7, 9984, 16, [0, 1, 2, 3, 4, 5, 6], 1),
        profile(1, 14, 2, 3, 20096, 32, [0, 2, 4], 2),
        profile(2, 9, 3, 2, 40448, 60, [0, 4], 4),
        profile(3, 5, 4, 1, 40448, 64, [0], 4),
        profile(4, 0, 7, 1, 81152, 132, [0], 8),
        profile(7, 20, 1, 1, 9984, 16, [0, 1, 2, 3, 4, 5, 6], 1),
        profile(9, 15, 1, 4, 20096, 26, [0, 2, 4, 6], 2),
    ]

    /// NVIDIA A100-SXM4-40GB.
    public static let a100x40GB: [MIGProfile] = [
        profile(0, 19, 1, 7, 4864, 14, [0, 1, 2, 3, 4, 5, 6], 1),
        profile(1, 14, 2, 3, 9856, 28, [0, 2, 4], 2),
        profile(2, 9, 3, 2, 19968, 42, [0, 4], 4),
        profile(3, 5, 4, 1, 19968, 56, [0], 4),
        profile(4, 0, 7, 1, 40192, 98, [0], 8),
        profile(7, 20, 1, 1, 4864, 14, [0, 1, 2, 3, 4, 5, 6], 1),
        profile(9, 15, 1, 4, 9856, 14, [0, 2, 4, 6], 2),
    ]

    /// NVIDIA A100 80GB (SXM4).
    public static let a100x80GB: [MIGProfile] = [
        profile(0, 19, 1, 7, 9984, 14, [0, 1, 2, 3, 4, 5, 6], 1),
        profile(1, 14, 2, 3, 20096, 28, [0, 2, 4], 2),
        profile(2, 9, 3, 2, 40448, 42, [0, 4], 4),
        profile(3, 5, 4, 1, 40448, 56, [0], 4),
        profile(4, 0, 7, 1, 81152, 98, [0], 8),
        profile(7, 20, 1, 1, 9984, 14, [0, 1, 2, 3, 4, 5, 6], 1),
        profile(9, 15, 1, 4, 20096, 14, [0, 2, 4, 6], 2),
    ]
}
