/// Routing-id arithmetic of PCIe SR-IOV: VF n of a PF is at RID(PF) + offset + n × stride.
public enum PCIAddressMath {
    public static func vf(_ pf: String, offset: Int, stride: Int, index: Int) -> String {
        let parts = pf.split(separator: ":")
        let devfn = parts[2].split(separator: ".")
        let bus = Int(parts[1], radix: 16)!
        let device = Int(devfn[0], radix: 16)!
        let function = Int(devfn[1])!
        let vf = (bus << 8 | device << 3 | function) + offset + index * stride
        return "\(parts[0]):" + hex(vf >> 8) + ":" + hex((vf >> 3) & 31) + ".\(vf & 7)"
    }

    static func hex(_ value: Int) -> String {
        let text = String(value, radix: 16)
        return text.count < 2 ? "0" + text : text
    }
}
