/// Placement search for MIG layouts. The placement table is small (at most 8 slots, a few dozen placements),
/// so an exhaustive backtracking search is exact and fast.
public enum MIGLayout {
    /// Placements for `wanted` (in its order), avoiding the slots in `occupied`, or nil when none fits.
    /// `used` counts instances of each profile id that already exist and are kept.
    public static func place(_ wanted: [MIGProfile], occupied: UInt32, used: [Int: Int] = [:]) -> [MIGPlacement]? {
        var counts = used
        for profile in wanted {
            counts[profile.id, default: 0] += 1
            if counts[profile.id]! > profile.instances { return nil }
        }
        // Largest first prunes the search; results go back in the caller's order.
        let order = wanted.indices.sorted {
            (wanted[$0].placements.first?.size ?? 0, -$0) > (wanted[$1].placements.first?.size ?? 0, -$1)
        }
        var chosen = [MIGPlacement?](repeating: nil, count: wanted.count)
        func search(_ k: Int, _ mask: UInt32) -> Bool {
            if k == order.count { return true }
            let i = order[k]
            for placement in wanted[i].placements where placement.mask & mask == 0 {
                chosen[i] = placement
                if search(k + 1, mask | placement.mask) { return true }
            }
            return false
        }
        guard search(0, occupied) else { return nil }
        return chosen.map { $0! }
    }

    /// The compute-instance sizes NVML offers in a GPU instance of `slices` compute slices (NVIDIA's MIG user
    /// guide: 1c, 2c, 3c, 4c and 7c in a 7g; 1c, 2c, 4c in a 4g; 1c, 2c, 3c in a 3g; 1c, 2c in a 2g; 1c in a 1g).
    public static func computeSizes(in slices: Int) -> [Int] {
        [1, 2, 3, 4, 7].filter { $0 <= slices && ($0 != 3 || slices == 3 || slices == 7) }
    }

    /// Where a compute instance of `size` slices may start in a GPU instance of `slices`: aligned to its size (a
    /// 3-slice one to 4), inside the GPU instance (NVML's compute-instance placements on A100 and H100).
    public static func computePlacements(size: Int, in slices: Int) -> [MIGPlacement] {
        let align = size == 3 ? 4 : size
        return stride(from: 0, through: slices - size, by: align).map { MIGPlacement(start: $0, size: size) }
    }

    /// Whether compute instances of `sizes` fit together in a GPU instance of `slices` (exhaustive search).
    public static func computeFits(_ sizes: [Int], in slices: Int) -> Bool {
        let profiles = sizes.map { size in
            MIGProfile(
                index: size, id: size, name: "\(size)c", slices: size, instances: 8, memoryMiB: 0, multiprocessors: 0,
                placements: computePlacements(size: size, in: slices))
        }
        return place(profiles, occupied: 0) != nil
    }

    /// The compute-instance sizes to create: listed, or `count` (nil: as many as fit) of `each`, or one over all.
    public static func computeSizes(each: Int?, count: Int?, listed: [Int]?, in slices: Int) -> [Int] {
        if let listed { return listed }
        guard let each, each >= 1 else { return [slices] }
        return Array(repeating: each, count: count ?? max(1, slices / each))
    }

    /// Why `wanted` (with `kept` placements staying) cannot fit, in words.
    public static func whyNot(_ wanted: [MIGProfile], kept: [(MIGProfile, MIGPlacement)], slots: Int = 8) -> String {
        var counts: [String: (Int, Int)] = [:]
        for profile in wanted + kept.map(\.0) { counts[profile.name, default: (0, profile.instances)].0 += 1 }
        for (name, (count, limit)) in counts.sorted(by: { $0.key < $1.key }) where count > limit {
            return
                "\(count) × '\(name)' exceed the \(limit) instance\(limit == 1 ? "" : "s") of '\(name)' the GPU allows"
        }
        let needed = (wanted + kept.map(\.0)).reduce(0) { $0 + ($1.placements.first?.size ?? 0) }
        if needed > slots { return "they need \(needed) memory slices and the GPU has \(slots)" }
        return "no arrangement of the GPU's placements fits them"
    }

    /// The fewest kept instances to move so that `new` fits: tries moving none, then each single instance, then
    /// pairs, … Returns the indices (into `kept`) to move and the placements of `new + moved`.
    public static func minimalMoves(
        kept: [(MIGProfile, MIGPlacement)], new: [MIGProfile], fixed: UInt32 = 0, fixedUsed: [Int: Int] = [:],
        movable: (Int) -> Bool = { _ in true }
    ) -> (moved: [Int], placements: [MIGPlacement])? {
        let candidates = kept.indices.filter(movable)
        for size in 0...candidates.count {
            var found: (moved: [Int], placements: [MIGPlacement])?
            combinations(of: candidates, size: size) { moved in
                let staying = kept.indices.filter { !moved.contains($0) }
                let mask = staying.reduce(fixed) { $0 | kept[$1].1.mask }
                var used = fixedUsed
                for i in staying { used[kept[i].0.id, default: 0] += 1 }
                if let placements = place(new + moved.map { kept[$0].0 }, occupied: mask, used: used) {
                    found = (moved, placements)
                    return true
                }
                return false
            }
            if let found { return found }
        }
        return nil
    }

    /// Calls `body` with each `size`-combination of `items`, in lexicographic order, until it returns true.
    static func combinations(of items: [Int], size: Int, _ body: ([Int]) -> Bool) {
        var current: [Int] = []
        func recurse(_ from: Int) -> Bool {
            if current.count == size { return body(current) }
            guard from < items.count else { return false }
            for i in from..<items.count {
                current.append(items[i])
                if recurse(i + 1) { return true }
                current.removeLast()
            }
            return false
        }
        _ = recurse(0)
    }
}
