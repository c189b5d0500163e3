internal import Yams

/// The `mps` key of a `gpus[]` entry.
extension ManifestWalker {
    /// What a pinned memory limit looks like: the value `set_default_device_pinned_mem_limit` takes.
    static let pinnedMemoryExpected =
        "a pinned memory limit is a whole number and a unit, 'K', 'M' or 'G' ('2G', '512M')"

    /// Whether `text` is a pinned-memory value ("2G", "512M"): 1 to 9 digits, not all zero, and one unit letter.
    static func isPinnedMemoryLimit(_ text: String) -> Bool {
        guard let unit = text.last, "KMG".contains(unit) else { return false }
        let digits = text.dropLast()
        return (1...9).contains(digits.count) && digits.allSatisfy(\.isASCII) && digits.allSatisfy(\.isNumber)
            && digits.contains { $0 != "0" }
    }

    /// `mps: {name, clients, activeThreadPercentage, pinnedMemoryLimit?}`.
    mutating func walkMPS(_ node: Node, path: String) -> MPSSpec? {
        let keys = ["name", "clients", "activeThreadPercentage", "pinnedMemoryLimit"]
        guard let pairs = mapping(node, at: path, allowed: keys) else { return nil }
        var name: String?
        var clients: Int?
        var percentage: Int?
        var limit: String?
        var valid = true
        for (key, _, value) in pairs {
            switch key {
            case "name": name = checked(partitionName(value, at: "\(path).name"), &valid)
            case "clients": clients = checked(integer(value, at: "\(path).clients", range: 1...48), &valid)
            case "activeThreadPercentage":
                percentage = checked(integer(value, at: "\(path).activeThreadPercentage", range: 1...100), &valid)
            case "pinnedMemoryLimit":
                limit = checked(
                    matching(
                        value, at: "\(path).pinnedMemoryLimit", Self.isPinnedMemoryLimit,
                        expected: Self.pinnedMemoryExpected), &valid)
            default: break
            }
        }
        requireKey("name", present: name != nil, in: pairs, at: path, node, &valid)
        requireKey("clients", present: clients != nil, in: pairs, at: path, node, &valid)
        requireKey("activeThreadPercentage", present: percentage != nil, in: pairs, at: path, node, &valid)
        guard valid, let name, let clients, let percentage else { return nil }
        spend(1, at: path, node)
        return MPSSpec(
            name: name, clients: clients, activeThreadPercentage: percentage, pinnedMemoryLimit: limit,
            location: location(node))
    }
}
