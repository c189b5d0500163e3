/// Routing-id arithmetic of PCIe SR-IOV: VF n of a PF is at RID(PF) + offset + n × stride.
public enum PCIAddressMath {
    /// The address of VF `index` of `pf` ("DDDD:BB:DD.F"), or nil when `pf` is no PCI address, offset, stride or
    /// index lies outside the SR-IOV capability's 16 bits, or the routing id passes bus ff (the kernel then refuses
    /// to enable the VF: it has no bus number for it). Never traps: the operands are bounded before any arithmetic.
    public static func vf(_ pf: String, offset: Int, stride: Int, index: Int) -> String? {
        let field = 0...0xFFFF
        let parts = pf.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 3, field.contains(offset), field.contains(stride), field.contains(index) else {
            return nil
        }
        let devfn = parts[2].split(separator: ".", omittingEmptySubsequences: false)
        guard devfn.count == 2, let bus = UInt8(parts[1], radix: 16), let device = UInt8(devfn[0], radix: 16),
            device < 32, let function = UInt8(devfn[1]), function < 8
        else { return nil }
        // At most 0xFFFF + 0xFFFF + 0xFFFF × 0xFFFF: far inside Int.
        let vf = (Int(bus) << 8 | Int(device) << 3 | Int(function)) + offset + index * stride
        guard vf <= 0xFFFF else { return nil }
        return "\(parts[0]):" + hex(vf >> 8) + ":" + hex((vf >> 3) & 31) + ".\(vf & 7)"
    }

    static func hex(_ value: Int) -> String {
        let text = String(value, radix: 16)
        return text.count < 2 ? "0" + text : text
    }
}
