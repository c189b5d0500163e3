internal import Yams

/// A vGPU partition (mdev or VF-based) as the export lists it, before runs of them collapse into a `count`.
struct ExportedVGPU {
    var name: String
    /// The `type:` to write: a form the planner resolves back to `typeID` (see `ExportTypes.reference`).
    var type: String
    var typeID: String
    var uuid: String?
}

/// The order and grouping of the partitions within one `gpus[]` entry.
enum ExportOrder {
    /// Natural order: runs of ASCII digits compare by value, so `ml-2` comes before `ml-10`; names equal by
    /// that measure (`ml-01`, `ml-1`) fall back to plain string order, so the order is total.
    static func precedes(_ a: String, _ b: String) -> Bool {
        let (x, y) = (chunks(a), chunks(b))
        for (p, q) in zip(x, y) where p != q {
            switch (Int(p), Int(q)) {
            case (let m?, let n?) where m != n: return m < n
            case (.some, .some): continue
            default: return p < q
            }
        }
        return x.count != y.count ? x.count < y.count : a < b
    }

    /// `name` cut into alternating runs of digits and of other characters; a digit run too long for `Int`
    /// counts as text.
    static func chunks(_ name: String) -> [String] {
        var result: [String] = []
        var current = ""
        var inDigits = false
        for character in name {
            let digit = character.isASCII && character.isNumber
            if !current.isEmpty && digit != inDigits {
                result.append(current)
                current = ""
            }
            current.append(character)
            inDigits = digit
        }
        if !current.isEmpty { result.append(current) }
        return result
    }

    /// `NAME-K` split into `NAME` and `K`, when K is a number written without leading zeros.
    static func counted(_ name: String) -> (base: String, index: Int)? {
        guard let dash = name.lastIndex(of: "-") else { return nil }
        let base = String(name[..<dash])
        let digits = name[name.index(after: dash)...]
        guard !base.isEmpty, !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
            digits == "0" || digits.first != "0", let index = Int(digits)
        else { return nil }
        return (base, index)
    }

    /// The `vgpu` entries of one GPU, in natural name order. A run `NAME-0` … `NAME-(N-1)` (N ≥ 2) of one type
    /// whose UUIDs are exactly UUIDv5(host, `NAME-K`), the ones the planner derives, becomes one
    /// `{name: NAME, type: T, count: N}`; every other partition keeps its own entry with its UUID pinned.
    static func vgpuEntries(_ partitions: [ExportedVGPU], host: String) -> [Node] {
        var runs: [String: [ExportedVGPU]] = [:]
        for partition in partitions {
            if let (base, _) = counted(partition.name) { runs[base, default: []].append(partition) }
        }
        var entries: [(name: String, count: Int, node: Node)] = []
        var collapsed: Set<String> = []
        for (base, members) in runs where isRun(members, host: host) {
            collapsed.formUnion(members.map(\.name))
            entries.append(
                (
                    base, members.count,
                    ExportNode.flow([
                        ("name", ExportNode.string(base)), ("type", ExportNode.string(members[0].type)),
                        ("count", ExportNode.int(members.count)),
                    ])
                ))
        }
        for partition in partitions where !collapsed.contains(partition.name) {
            var fields = [("name", ExportNode.string(partition.name)), ("type", ExportNode.string(partition.type))]
            if let uuid = partition.uuid { fields.append(("uuid", ExportNode.string(uuid))) }
            entries.append((partition.name, 1, ExportNode.flow(fields)))
        }
        return entries.sorted { $0.name == $1.name ? $0.count < $1.count : precedes($0.name, $1.name) }.map(\.node)
    }

    /// Whether `members` (all named `BASE-K`) are exactly what `{name: BASE, type: T, count: N}` makes.
    static func isRun(_ members: [ExportedVGPU], host: String) -> Bool {
        let indices = Set(members.compactMap { counted($0.name)?.index })
        return members.count >= 2 && members.count <= ManifestParser.maximumCount
            && indices == Set(0..<members.count)
            && members.allSatisfy { $0.typeID == members[0].typeID && $0.type == members[0].type }
            && members.allSatisfy { $0.uuid == UUIDv5.partition(host: host, name: $0.name) }
    }
}

/// How the export names vGPU types: by the readable name the planner resolves back to the same type.
enum ExportTypes {
    /// The types one GPU entry's mdevs may be declared as, as the planner lists them (`planMdev`): those of its
    /// parents, first occurrence of each id.
    static func mdevCatalogue(_ parents: [MdevParent]) -> [PlanBuilder.TypeRef] {
        var catalogue: [PlanBuilder.TypeRef] = []
        for parent in parents {
            for type in parent.types where !catalogue.contains(where: { $0.id == type.id }) {
                catalogue.append(PlanBuilder.TypeRef(id: type.id, name: type.name))
            }
        }
        return catalogue
    }

    /// The VF-based vGPU types of a GPU, as the planner lists them (`planVFvGPU`): each VF's creatable types,
    /// then the types recorded for its partitions (a type whose pool is full is creatable nowhere).
    static func vfCatalogue(_ gpu: GPU, state: HostState) -> [PlanBuilder.TypeRef] {
        var catalogue: [PlanBuilder.TypeRef] = []
        func add(_ id: String, _ name: String) {
            if !catalogue.contains(where: { $0.id == id }) { catalogue.append(PlanBuilder.TypeRef(id: id, name: name)) }
        }
        for vf in gpu.vfs { for type in vf.vgpu?.creatable ?? [] { add("\(type.id)", type.name) } }
        for owned in state.partitions where owned.kind == .vgpuVF && owned.gpu == gpu.address {
            if let id = owned.type, let name = owned.typeName { add(id, name) }
        }
        // NVML's catalogue: a VF that holds a MIG-backed vGPU lists nothing, and its type may be unrecorded.
        for type in gpu.vgpuTypes ?? [] { add("\(type.id)", type.name) }
        return catalogue
    }

    /// How to write type `id` in `type:`: NVIDIA's name without "NVIDIA " (`T4-4Q`), else the exact name, else
    /// the id. A name is used only when it is a valid type reference, resolves back to `id` and refers to no
    /// other type of `catalogue` by any of the planner's rules; an ambiguous or missing name gives the id.
    static func reference(_ id: String, in catalogue: [PlanBuilder.TypeRef]) -> String {
        guard let type = catalogue.first(where: { $0.id == id }) else { return id }
        var candidates: [String] = []
        if type.name.lowercased().hasPrefix("nvidia ") { candidates.append(String(type.name.dropFirst(7))) }
        candidates.append(type.name)
        for candidate in candidates where Patterns.isTypeReference(candidate) {
            let referred = catalogue.filter { refers(candidate, to: $0) }
            let resolved = PlanBuilder.resolve(candidate, in: catalogue)
            if referred.map(\.id) == [id] && resolved?.id == id { return candidate }
        }
        return id
    }

    /// Whether the planner's `resolve` could pick `type` for `reference` by any of its rules.
    static func refers(_ reference: String, to type: PlanBuilder.TypeRef) -> Bool {
        let name = type.name.lowercased()
        let lowered = reference.lowercased()
        return type.id == reference || type.name == reference || name == "nvidia \(lowered)" || name == lowered
    }
}
