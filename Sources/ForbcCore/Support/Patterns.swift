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

    /// A PCI address in domain:bus:device.function form, "0000:3b:00.0": ASCII hexadecimal digits (device below
    /// 0x20, function 0–7), checked on the bytes (plans look at every recorded partition's GPU).
    public static func isPCIAddress(_ s: String) -> Bool {
        matchesBytes(s, count: 12) { bytes in
            bytes[4] == UInt8(ascii: ":") && bytes[7] == UInt8(ascii: ":") && bytes[10] == UInt8(ascii: ".")
                && [0, 1, 2, 3, 5, 6, 8, 9].allSatisfy { isHex(bytes[$0]) }
                && (bytes[8] == UInt8(ascii: "0") || bytes[8] == UInt8(ascii: "1"))
                && (UInt8(ascii: "0")...UInt8(ascii: "7")).contains(bytes[11])
        }
    }

    /// A UUID in its 8-4-4-4-12 form of ASCII hexadecimal digits.
    public static func isUUID(_ s: String) -> Bool {
        matchesBytes(s, count: 36) { bytes in
            (0..<36).allSatisfy { i in
                i == 8 || i == 13 || i == 18 || i == 23 ? bytes[i] == UInt8(ascii: "-") : isHex(bytes[i])
            }
        }
    }

    static func isHex(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"),
            UInt8(ascii: "A")...UInt8(ascii: "F"):
            true
        default: false
        }
    }

    /// Whether `s` is `count` UTF-8 bytes that `match` accepts (a string of other bytes is not ASCII-only anyway).
    static func matchesBytes(_ s: String, count: Int, _ match: (UnsafeBufferPointer<UInt8>) -> Bool) -> Bool {
        guard s.utf8.count == count else { return false }
        if let answer = s.utf8.withContiguousStorageIfAvailable(match) { return answer }
        return Array(s.utf8).withUnsafeBufferPointer(match)
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
