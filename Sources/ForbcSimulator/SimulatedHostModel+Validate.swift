import ForbcCore
import Foundation

/// A saved simulated host (`simulated-host.json`) is input a person can edit: its numbers are checked when it is
/// read, against what the simulated hardware can hold, so that no edit makes the simulator's arithmetic trap.
extension SimulatedHostModel {
    /// What every integer of the file may hold unless `ranges` says otherwise: what drivers, NVML and the kernel
    /// report as C unsigned ints.
    static let integerRange = 0...Int(UInt32.max)
    /// Tighter ranges by field name: `numa_node` (-1 is "none"), and the 16-bit fields of the SR-IOV capability.
    static let ranges: [String: ClosedRange<Int>] = [
        "numaNode": -1...1023, "totalVFs": 0...0xFFFF, "numVFs": 0...0xFFFF, "offset": 0...0xFFFF,
        "stride": 0...0xFFFF,
    ]
    /// Fields that hold no number the file sets (the mdevs and their derived index): not walked, for speed.
    static let unchecked: Set<String> = ["storedMdevs", "mdevIndex", "activeVGPUs"]

    /// Throws a located error (the file, the field's place in it, the value and the range) for the first number
    /// out of range, or an SR-IOV device whose VFs could not all have a PCI address.
    public func validate(file: String) throws {
        guard let problem = Self.outOfRange(self, at: "", label: nil) ?? sriovProblem() else { return }
        throw ForbcError(
            .invalidInput,
            "the simulated host \(file) is not one the simulator can run: \(problem); correct it, or delete the file "
                + "to start afresh",
            path: file)
    }

    /// Each SR-IOV device: no more VFs enabled than it has, an address for its last VF (within bus ff), and a
    /// provisioning entry for each VF.
    func sriovProblem() -> String? {
        for (i, device) in devices.enumerated() {
            guard let sriov = device.sriov else { continue }
            let place = "devices[\(i)].sriov"
            if sriov.numVFs > sriov.totalVFs {
                return "\(place).numVFs is \(sriov.numVFs), more than totalVFs \(sriov.totalVFs)"
            }
            if sriov.totalVFs > 0,
                PCIAddressMath.vf(
                    device.address, offset: sriov.offset, stride: sriov.stride, index: sriov.totalVFs - 1) == nil
            {
                return "VF \(sriov.totalVFs - 1) of \(place) (address '\(device.address)', offset \(sriov.offset), "
                    + "stride \(sriov.stride)) has no PCI address (it lies beyond bus ff)"
            }
            if let iov = device.iov, iov.vfs.count < sriov.totalVFs {
                return "devices[\(i)].iov.vfs holds \(iov.vfs.count) VFs, fewer than totalVFs \(sriov.totalVFs)"
            }
        }
        return nil
    }

    /// The first integer under `value` outside its range, as "PLACE is VALUE, not in LOW…HIGH"; a walk of the
    /// decoded model by reflection, so that every integer field is checked, those added later included.
    static func outOfRange(_ value: Any, at place: String, label: String?) -> String? {
        if let number = value as? Int {
            let range = label.flatMap { ranges[$0] } ?? integerRange
            return range.contains(number)
                ? nil : "\(place) is \(number), not in \(range.lowerBound)…\(range.upperBound)"
        }
        let mirror = Mirror(reflecting: value)
        for (index, child) in mirror.children.enumerated() {
            switch mirror.displayStyle {
            case .optional:
                return outOfRange(child.value, at: place, label: label)
            case .collection, .set:
                if let found = outOfRange(child.value, at: "\(place)[\(index)]", label: label) { return found }
            case .dictionary:
                let pair = Array(Mirror(reflecting: child.value).children)
                guard pair.count == 2 else { continue }
                let key = "\(place)[\(String(describing: pair[0].value))]"
                if let found = outOfRange(pair[0].value, at: key + " (the key)", label: nil) { return found }
                if let found = outOfRange(pair[1].value, at: key, label: label) { return found }
            default:
                guard let name = child.label, !unchecked.contains(name) else { continue }
                let inner = place.isEmpty ? name : "\(place).\(name)"
                if let found = outOfRange(child.value, at: inner, label: name) { return found }
            }
        }
        return nil
    }
}
