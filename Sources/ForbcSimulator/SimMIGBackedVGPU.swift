import ForbcCore
import Foundation

/// A MIG-backed vGPU type a simulated PF's VFs offer: its id and name, and the GPU-instance profile it lives on.
public struct SimMIGBackedType: Sendable, Codable, Equatable {
    public var id: Int
    public var name: String
    public var profileID: Int

    public init(id: Int, name: String, profileID: Int) {
        self.id = id
        self.name = name
        self.profileID = profileID
    }
}

/// MIG-backed vGPU on VFs, as NVIDIA's vGPU manager behaves on A100/H100: with MIG mode on, a VF offers a
/// MIG-backed type while a GPU instance of the type's profile exists that no vGPU lives on, and writing the type
/// to `current_vgpu_type` puts the vGPU on such an instance (the driver chooses; here the lowest id), which
/// `nvidia/gpu_instance_id` then shows. Time-sliced types are not offered while MIG mode is on. A GPU instance
/// that a vGPU lives on cannot be destroyed (NVML_ERROR_IN_USE).
extension SimulatedHostModel {
    /// The NVML device of a physical function.
    func nvmlPosition(of pf: String) -> Int? { nvml.firstIndex { $0.address == pf } }

    /// Whether the PF is in MIG mode (NVML's current mode).
    func inMIGMode(_ pf: String) -> Bool { nvmlPosition(of: pf).map { nvml[$0].currentMode } ?? false }

    /// The GPU instance a VF's vGPU lives on.
    func gpuInstance(of vf: String, pf: String) -> Int? {
        nvmlPosition(of: pf).flatMap { nvml[$0].vgpuBindings?[vf] }
    }

    /// GPU instances of `profileID` on the PF that no vGPU lives on, lowest id first.
    func freeInstances(on pf: String, profileID: Int) -> [MIGInstance] {
        guard let position = nvmlPosition(of: pf) else { return [] }
        let bound = Set((nvml[position].vgpuBindings ?? [:]).values)
        return nvml[position].instances.filter { $0.profileID == profileID && !bound.contains($0.id) }
            .sorted { $0.id < $1.id }
    }

    /// The MIG-backed types a free VF of `device` offers now.
    func creatableMIGBacked(_ device: SimDevice) -> [SimMIGBackedType] {
        guard inMIGMode(device.address) else { return [] }
        return (device.sriov?.vfMIGBackedTypes ?? []).filter {
            !freeInstances(on: device.address, profileID: $0.profileID).isEmpty
        }
    }

    /// `current_vgpu_type` written with a MIG-backed type id: the vGPU goes on a free instance of its profile.
    mutating func createMIGBacked(_ type: SimMIGBackedType, vf: String, pf: String) throws {
        guard let position = nvmlPosition(of: pf), inMIGMode(pf),
            let instance = freeInstances(on: pf, profileID: type.profileID).first
        else { throw SimErrno(errno: Errno.EINVAL) }
        nvml[position].vgpuBindings = (nvml[position].vgpuBindings ?? [:]).merging([vf: instance.id]) { $1 }
        vgpus[vf] = type.id
    }

    /// `current_vgpu_type` written with 0: the vGPU and its binding go.
    mutating func removeBinding(vf: String, pf: String) {
        guard let position = nvmlPosition(of: pf) else { return }
        nvml[position].vgpuBindings?[vf] = nil
    }
}

extension SimulatedNVML {
    /// The PF's time-sliced types (no profile) and its MIG-backed types, as nvmlDeviceGetSupportedVgpus lists them.
    public func vgpuTypes(device: Int) throws -> [NVMLVGPUType] {
        let model = kernel.model
        guard let gpu = model.nvml.first(where: { $0.index == device }),
            let sriov = model.devices.first(where: { $0.address == gpu.address })?.sriov
        else { return [] }
        let timeSliced = sriov.vfVGPUTypes.compactMap { type in
            Int(type.id).map { NVMLVGPUType(id: $0, name: type.name) }
        }
        let migBacked = (sriov.vfMIGBackedTypes ?? []).map {
            NVMLVGPUType(id: $0.id, name: $0.name, gpuInstanceProfileID: $0.profileID)
        }
        return timeSliced + migBacked
    }
}
