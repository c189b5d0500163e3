/// The strict patterns for every value that becomes part of a sysfs path or a libvirt name.
/// Hand-written matchers rather than regexes: they run on every manifest value and must never backtrack.
public enum Patterns {
    static func isAlnum(_ c: Character) -> Bool { c.isASCII && (c.isLetter || c.isNumber) }

    /// Partition names: an ASCII letter or digit, then letters, digits, '-' or '_'; at most 63 characters.
    public static func isPartitionName(_ s: String) -> Bool {
        guard let first = s.first, isAlnum(first), s.count <= 63 else { return false }
        return s.allSatisfy { isAlnum($0) || $0 == "-" || $0 == "_" }
    }

    /// Host and domain names: letters, digits, '-', '_', '.', '+'; no '..'; at most 128 characters.
    public static func isObjectName(_ s: String, max: Int = 128) -> Bool {
        guard let first = s.first, isAlnum(first), s.count <= max, !s.contains("..") else { return false }
        return s.allSatisfy { isAlnum($0) || "-_.+".contains($0) }
    }

    /// mdev/vGPU type ids or names ("nvidia-558", "NVIDIA A40-8Q", "i915-GVTg_V5_4", "mtty-2").
    public static func isTypeReference(_ s: String) -> Bool {
        guard let first = s.first, isAlnum(first), s.count <= 128, !s.contains("..") else { return false }
        return s.allSatisfy { isAlnum($0) || " -_.+".contains($0) }
    }

    /// A PCI address in domain:bus:device.function form, "0000:3b:00.0".
    public static func isPCIAddress(_ s: String) -> Bool {
        let parts = s.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2 else { return false }
        let devfn = parts[2].split(separator: ".", omittingEmptySubsequences: false)
        guard devfn.count == 2, devfn[0].count == 2, devfn[1].count == 1,
            let device = Int(devfn[0], radix: 16), device < 32,
            let function = Int(devfn[1]), function < 8
        else { return false }
        return [parts[0], parts[1], devfn[0]].allSatisfy { $0.allSatisfy(\.isHexDigit) }
    }

    /// A UUID in its 8-4-4-4-12 hexadecimal form.
    public static func isUUID(_ s: String) -> Bool {
        let groups = s.split(separator: "-", omittingEmptySubsequences: false)
        guard groups.map(\.count) == [8, 4, 4, 4, 12] else { return false }
        return groups.allSatisfy { $0.allSatisfy(\.isHexDigit) }
    }

    /// mdev parent names under /sys/class/mdev_bus: a PCI address or a driver's own name ("mtty").
    public static func isParentName(_ s: String) -> Bool {
        guard let first = s.first, isAlnum(first), s.count <= 64, !s.contains("..") else { return false }
        return s.allSatisfy { isAlnum($0) || "-_.:".contains($0) }
    }

    /// MIG profile names: "3g.40gb", "1g.10gb+me", "1g.20gb".
    public static func isMIGProfile(_ s: String) -> Bool {
        let parts = s.split(separator: "+", omittingEmptySubsequences: false)
        let base = parts[0].split(separator: ".", omittingEmptySubsequences: false)
        guard base.count == 2, base[0].count >= 2, base[0].last == "g", base[0].dropLast().allSatisfy(\.isNumber),
            base[1].hasSuffix("gb"), base[1].dropLast(2).count >= 1, base[1].dropLast(2).allSatisfy(\.isNumber)
        else { return false }
        return parts.dropFirst().allSatisfy { !$0.isEmpty && $0.allSatisfy { isAlnum($0) || $0 == "." } }
    }
}
