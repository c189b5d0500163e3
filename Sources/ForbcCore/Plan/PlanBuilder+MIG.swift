/// Planning of MIG GPU instances: keep every instance the manifest still wants, place new ones around them
/// (exhaustive search of the placement table), and move a kept instance only when the wanted layout cannot be
/// reached otherwise, saying which one and why.
extension PlanBuilder {
    /// The GPU a `gpus[]` entry partitions with MIG, and what the planning of its instances reads.
    private struct MIGHost {
        var gpu: GPU
        var mig: MIGState
        var label: String
        /// Where GPU-wide diagnostics point: the first `mig:` entry, else the `gpus[]` entry.
        var location: SourceLocation
        /// What the state dir recorded of forbc's MIG instances on this GPU.
        var recorded: [OwnedPartition]
        /// The GPU instances that exist now (none while MIG mode is off).
        var existing: [MIGInstance] { mig.currentMode ? mig.instances : [] }
    }

    /// A declared MIG partition and the profile it names (its placements narrowed to a pinned slot).
    private struct MIGWant {
        var partition: DesiredPartition
        var profile: MIGProfile
    }

    /// A declared MIG partition that an existing instance already holds.
    private struct KeptMIG {
        var partition: DesiredPartition
        var profile: MIGProfile
        var instance: MIGInstance
        /// What the state dir recorded of the instance under another name: the plan relabels it.
        var previous: OwnedPartition?
    }

    /// An instance the manifest does not declare and prune keeps: it stays where it is.
    private struct ForeignMIG {
        var profile: MIGProfile
        var instance: MIGInstance
    }

    /// The declared partitions split into those existing instances keep and those still to place.
    private struct MIGMatch {
        var kept: [KeptMIG] = []
        var new: [MIGWant] = []
        /// Ids of the existing instances that declared partitions keep.
        var claimed: Set<Int> = []
    }

    /// One target's MIG instances: resolve the profiles, keep matching instances, prune the rest, place the new.
    mutating func planMIG(_ spec: GPUSpec, _ target: Planner.Target, _ mine: [DesiredPartition]) {
        guard let host = migHost(spec, target), let resolved = resolveMIG(mine, on: host) else { return }
        let match = keepMIG(resolved, on: host)
        let foreign = pruneMIG(match, on: host)
        placeMIG(resolved, match, foreign: foreign, on: host)
    }

    /// Resolve: the target's MIG capability, or nil (with a diagnostic) when it has none.
    private mutating func migHost(_ spec: GPUSpec, _ target: Planner.Target) -> MIGHost? {
        let location = spec.mig.first?.location ?? spec.location
        guard let gpu = target.gpu else {
            fail("MIG needs a PCI GPU; \(target.label) is not one", location)
            return nil
        }
        guard let mig = gpu.mig, !mig.profiles.isEmpty else {
            let why =
                gpu.mig == nil
                ? "NVML does not know this GPU (is NVIDIA's driver loaded?)" : "NVML lists no GPU-instance profile"
            fail("\(target.label) has no MIG capability: \(why)", location)
            return nil
        }
        let recorded = state.partitions.filter { $0.kind == .mig && $0.gpu == gpu.address }
        return MIGHost(gpu: gpu, mig: mig, label: target.label, location: location, recorded: recorded)
    }

    /// Resolve: the profile of every declared MIG partition, or nil when any does not resolve.
    private mutating func resolveMIG(_ mine: [DesiredPartition], on host: MIGHost) -> [MIGWant]? {
        let wanted = mine.filter { $0.kind == .mig }
        var resolved: [MIGWant] = []
        // One diagnostic per unknown profile, not one per instance of a `count: N` entry.
        var unknown: Set<String> = []
        for partition in wanted {
            let type = partition.type ?? ""
            if host.mig.profile(named: type) == nil {
                guard unknown.insert(type).inserted else { continue }
            }
            guard let profile = migProfile(for: partition, on: host) else { continue }
            resolved.append(MIGWant(partition: partition, profile: profile))
        }
        return resolved.count == wanted.count ? resolved : nil
    }

    /// Resolve: one partition's profile, its placements narrowed to a pinned slot, or nil with a diagnostic.
    private mutating func migProfile(for partition: DesiredPartition, on host: MIGHost) -> MIGProfile? {
        let mig = host.mig
        guard var profile = mig.profile(named: partition.type ?? "") else {
            let offers = mig.profiles.map(\.name).joined(separator: ", ")
            fail(
                "MIG profile '\(partition.type ?? "")' is not offered by \(host.label); it offers: \(offers)",
                locations[partition.name])
            return nil
        }
        if let start = partition.placement {
            guard let placement = profile.placements.first(where: { $0.start == start }) else {
                let starts = profile.placements.map { "\($0.start)" }.joined(separator: ", ")
                fail(
                    "'\(partition.name)': '\(profile.name)' cannot start at slot \(start) on \(host.label); "
                        + "its placements start at \(starts)",
                    locations[partition.name])
                return nil
            }
            profile.placements = [placement]
        }
        guard checkCompute(partition, profile) else { return nil }
        return profile
    }

    /// Resolve: the compute instances a partition asks for are ones NVML offers on its GPU instance.
    private mutating func checkCompute(_ partition: DesiredPartition, _ profile: MIGProfile) -> Bool {
        if let sizes = partition.computeInstances { return checkComputeSizes(partition, sizes, profile) }
        guard let slices = partition.computeSlices else { return true }
        let offered = MIGLayout.computeSizes(in: profile.slices)
        guard offered.contains(slices) else {
            let sizes = offered.map { "\($0)" }.joined(separator: ", ")
            fail(
                "'\(partition.name)': a \(profile.slices)-slice '\(profile.name)' offers compute instances of "
                    + "\(sizes) slices, not \(slices)",
                locations[partition.name])
            return false
        }
        let fit = profile.slices / slices
        if let count = partition.computeCount, count > fit {
            fail(
                "'\(partition.name)': \(count) × \(slices)-slice compute instances exceed the \(fit) that fit in a "
                    + "\(profile.slices)-slice '\(profile.name)'",
                locations[partition.name])
            return false
        }
        return true
    }

    /// Whether `instance` is of the wanted profile at one of the placements it may take, with the compute
    /// instances wanted (when discovery read them).
    private static func fits(_ instance: MIGInstance, _ want: MIGWant) -> Bool {
        let profile = want.profile
        guard instance.profileID == profile.id && profile.placements.contains(instance.placement) else { return false }
        return instance.computeSizes.map { $0 == computeSizes(want.partition, profile) } ?? true
    }

    /// The compute-instance sizes a partition asks for, largest first.
    static func computeSizes(_ partition: DesiredPartition, _ profile: MIGProfile) -> [Int] {
        MIGLayout.computeSizes(
            each: partition.computeSlices, count: partition.computeCount, listed: partition.computeInstances,
            in: profile.slices
        ).sorted(by: >)
    }

    /// Why a recorded instance that the manifest still declares with its profile is not kept: its compute
    /// instances differ (nil when they do not).
    private func computeChange(_ owned: OwnedPartition?, _ instance: MIGInstance, on host: MIGHost) -> String? {
        guard let owned, let have = instance.computeSizes,
            let partition = desired.first(where: { $0.name == owned.name && $0.gpu == host.gpu.address }),
            let profile = host.mig.profile(id: instance.profileID), partition.type == profile.name
        else { return nil }
        let want = Self.computeSizes(partition, profile)
        guard want != have else { return nil }
        func text(_ sizes: [Int]) -> String { sizes.map { "\($0)" }.joined(separator: " + ") }
        return "'\(owned.name)' is declared with compute instances of \(text(want)) slices and has \(text(have)); "
            + "it is recreated"
    }

    /// Keep: match existing instances first by what the state dir recorded, then adopt unrecorded ones of the
    /// same profile; the rest are new.
    private func keepMIG(_ resolved: [MIGWant], on host: MIGHost) -> MIGMatch {
        let existing = host.existing
        var match = MIGMatch()
        for want in resolved {
            if let record = host.recorded.first(where: { $0.name == want.partition.name }),
                let instance = existing.first(where: {
                    !match.claimed.contains($0.id) && $0.placement.start == record.placement
                        && Self.fits($0, want)
                })
            {
                match.claimed.insert(instance.id)
                match.kept.append(KeptMIG(partition: want.partition, profile: want.profile, instance: instance))
            } else {
                match.new.append(want)
            }
        }
        return adoptMIG(match, on: host)
    }

    /// Keep: adoption by placement. Each declared partition that pass one left unmatched keeps an unclaimed
    /// instance of its profile at an acceptable slot, recorded or not (a record under another name is relabelled;
    /// MIG UUIDs come from the driver, names are forbc's labels). Which instances are adopted is searched: the
    /// choice that leaves the fewest kept instances to move wins (ties: lowest slots).
    private func adoptMIG(_ first: MIGMatch, on host: MIGHost) -> MIGMatch {
        // Interchangeable partitions (one profile, placements and compute instances) take instances in slot order:
        // names do not change what must move.
        func key(_ want: MIGWant) -> String {
            "\(want.profile.id) \(want.profile.placements) \(Self.computeSizes(want.partition, want.profile))"
        }
        let wants = first.new.sorted { key($0) < key($1) }
        let candidates = host.existing.filter { !first.claimed.contains($0.id) }
        var best: (moves: Int, match: MIGMatch)?
        var budget = 512
        func search(_ i: Int, _ match: MIGMatch, after floor: Int) {
            guard budget > 0, best?.moves != 0 else { return }
            guard i < wants.count else {
                budget -= 1
                let moves = adoptionMoves(match, on: host)
                if moves < (best?.moves ?? Int.max) { best = (moves, match) }
                return
            }
            let want = wants[i]
            let samePrevious = i > 0 && key(wants[i - 1]) == key(want)
            let fitting = candidates.indices.filter {
                (!samePrevious || $0 > floor) && !match.claimed.contains(candidates[$0].id)
                    && Self.fits(candidates[$0], want)
            }
            for index in fitting {
                search(i + 1, adopting(candidates[index], for: want, into: match, on: host), after: index)
            }
            if fitting.isEmpty {
                var unmatched = match
                unmatched.new.append(want)
                search(i + 1, unmatched, after: samePrevious ? candidates.count : -1)
            }
        }
        var start = first
        start.new = []
        search(0, start, after: -1)
        guard var chosen = best?.match else { return first }
        // Back in declaration order, for the plan's steps.
        let order = Dictionary(uniqueKeysWithValues: first.new.enumerated().map { ($1.partition.name, $0) })
        let adopted = chosen.kept[first.kept.count...].sorted {
            (order[$0.partition.name] ?? 0) < (order[$1.partition.name] ?? 0)
        }
        chosen.kept = first.kept + adopted
        chosen.new.sort { (order[$0.partition.name] ?? 0) < (order[$1.partition.name] ?? 0) }
        return chosen
    }

    /// Keep: `match` with `instance` adopted for `want`.
    private func adopting(_ instance: MIGInstance, for want: MIGWant, into match: MIGMatch, on host: MIGHost)
        -> MIGMatch
    {
        var match = match
        match.claimed.insert(instance.id)
        let previous = host.recorded.first {
            $0.placement == instance.placement.start && $0.type == want.profile.name
        }
        match.kept.append(
            KeptMIG(partition: want.partition, profile: want.profile, instance: instance, previous: previous))
        return match
    }

    /// Keep: how many kept instances must move for an adoption choice (the instances prune keeps stay put).
    private func adoptionMoves(_ match: MIGMatch, on host: MIGHost) -> Int {
        var fixed: UInt32 = 0
        var fixedUsed: [Int: Int] = [:]
        for instance in host.existing where !match.claimed.contains(instance.id) {
            let owned = host.recorded.first {
                $0.placement == instance.placement.start && host.mig.profile(id: instance.profileID)?.name == $0.type
            }
            guard pruneReason(owned: owned) == nil else { continue }
            fixed |= instance.placement.mask
            fixedUsed[instance.profileID, default: 0] += 1
        }
        let solution = MIGLayout.minimalMoves(
            kept: match.kept.map { ($0.profile, $0.instance.placement) }, new: match.new.map(\.profile),
            fixed: fixed, fixedUsed: fixedUsed)
        return solution?.moved.count ?? Int.max - 1
    }

    /// Prune: destroy the instances the manifest does not declare where prune lets them go; returns the ones
    /// forbc keeps.
    private mutating func pruneMIG(_ match: MIGMatch, on host: MIGHost) -> [ForeignMIG] {
        let mig = host.mig
        var foreign: [ForeignMIG] = []
        for instance in host.existing where !match.claimed.contains(instance.id) {
            let owned = host.recorded.first {
                $0.placement == instance.placement.start && mig.profile(id: instance.profileID)?.name == $0.type
            }
            let name = owned?.name ?? Self.unrecordedMIGName(instance, on: host.gpu)
            if let reason = computeChange(owned, instance, on: host) ?? pruneReason(owned: owned) {
                if instance.processes > 0 && !force {
                    fail(
                        "MIG instance '\(name)' on \(host.label) runs \(instance.processes) process(es); "
                            + "forbc never destroys an instance in use: stop them, or pass '--force'",
                        host.location)
                    continue
                }
                destroyMIG(instance, mig, host.gpu, name: name, reason: reason)
            } else if let profile = mig.profile(id: instance.profileID) {
                foreign.append(ForeignMIG(profile: profile, instance: instance))
            }
        }
        return foreign
    }

    /// Place: the new instances go around the kept and foreign ones; kept ones move only if nothing else fits.
    private mutating func placeMIG(_ resolved: [MIGWant], _ match: MIGMatch, foreign: [ForeignMIG], on host: MIGHost) {
        guard let solution = layoutMIG(resolved, match, foreign: foreign, on: host) else { return }
        guard settleKeptMIG(match.kept, moving: solution.moved, on: host) else { return }
        let placing =
            match.new
            + solution.moved.map {
                MIGWant(
                    partition: match.kept[$0].partition,
                    profile: match.kept[$0].profile)
            }
        guard enableMIGMode(on: host) else { return }
        for (want, placement) in zip(placing, solution.placements) { createMIG(want, at: placement, on: host) }
    }

    /// Place: the fewest kept instances to move and the placements of `new + moved`, or nil with a diagnostic.
    private mutating func layoutMIG(
        _ resolved: [MIGWant], _ match: MIGMatch, foreign: [ForeignMIG],
        on host: MIGHost
    ) -> (moved: [Int], placements: [MIGPlacement])? {
        let fixedMask = foreign.reduce(UInt32(0)) { $0 | $1.instance.placement.mask }
        var fixedUsed: [Int: Int] = [:]
        for entry in foreign { fixedUsed[entry.profile.id, default: 0] += 1 }
        let keptLayout = match.kept.map { ($0.profile, $0.instance.placement) }
        if let solution = MIGLayout.minimalMoves(
            kept: keptLayout, new: match.new.map(\.profile),
            fixed: fixedMask, fixedUsed: fixedUsed)
        {
            return solution
        }
        let kinds = resolved.map(\.profile.name).sorted().joined(separator: ", ")
        let why = MIGLayout.whyNot(resolved.map(\.profile) + foreign.map(\.profile), kept: [])
        let undeclared = foreign.isEmpty ? "" : " (with \(foreign.count) undeclared instance(s) forbc keeps)"
        fail("no MIG layout of {\(kinds)} fits \(host.label): \(why)\(undeclared)", host.location)
        return nil
    }

    /// Place: record where each kept instance is and destroy those that must move; false (with a diagnostic)
    /// when one that must move is in use.
    private mutating func settleKeptMIG(_ kept: [KeptMIG], moving moved: [Int], on host: MIGHost) -> Bool {
        for (index, entry) in kept.enumerated() {
            let (partition, profile, instance) = (entry.partition, entry.profile, entry.instance)
            var updated = partition
            updated.placement = instance.placement.start
            updated.uuid = instance.uuids.first
            updated.access = instance.uuids.first.map { "CUDA_VISIBLE_DEVICES=\($0)" }
            updated.typeName = profile.name
            replaceDesired(updated)
            guard moved.contains(index) else {
                if let previous = entry.previous, previous.name != partition.name { relabelMIG(entry, on: host) }
                continue
            }
            if instance.processes > 0 && !force {
                fail(
                    "'\(partition.name)' (\(profile.name) at slot \(instance.placement.start)) must move for the "
                        + "wanted layout to fit, but it runs \(instance.processes) process(es); "
                        + "stop them, or pass '--force'",
                    locations[partition.name])
                return false
            }
            destroyMIG(
                instance, host.mig, host.gpu, name: entry.previous?.name ?? partition.name,
                reason: "the wanted layout cannot be reached with '\(partition.name)' at slot "
                    + "\(instance.placement.start): it must move")
        }
        return true
    }

    /// Place: turn MIG mode on when it is off and not yet pending; false (with a diagnostic) when it is off and
    /// the GPU is in use.
    private mutating func enableMIGMode(on host: MIGHost) -> Bool {
        let (gpu, mig) = (host.gpu, host.mig)
        guard !mig.currentMode else { return true }
        if mig.processes > 0 {
            fail(
                "MIG mode of \(host.label) is off and \(mig.processes) compute process(es) use the GPU; "
                    + "MIG mode cannot change while it is in use",
                host.location)
            return false
        }
        if !mig.pendingMode {
            configureActions.append(
                PlannedAction(
                    action: .configure, target: gpu.address,
                    reason: "MIG mode is off and the manifest declares MIG instances; "
                        + "the change may stay pending until a GPU reset",
                    kind: .mig, gpu: gpu.address, path: "NVML nvmlDeviceSetMigMode(device \(mig.index))", value: "1",
                    precondition: .migMode(device: mig.index, gpu: gpu.address, enabled: true)))
        }
        return true
    }

    /// Resolve: a list of compute-instance sizes is offered and fits the GPU instance's compute placements.
    private mutating func checkComputeSizes(_ partition: DesiredPartition, _ sizes: [Int], _ profile: MIGProfile)
        -> Bool
    {
        let offered = MIGLayout.computeSizes(in: profile.slices)
        if let size = sizes.first(where: { !offered.contains($0) }) {
            let list = offered.map { "\($0)" }.joined(separator: ", ")
            fail(
                "'\(partition.name)': a \(profile.slices)-slice '\(profile.name)' offers compute instances of "
                    + "\(list) slices, not \(size)",
                locations[partition.name])
            return false
        }
        guard MIGLayout.computeFits(sizes, in: profile.slices) else {
            fail(
                "'\(partition.name)': compute instances of \(sizes.map { "\($0)" }.joined(separator: " + ")) slices do "
                    + "not fit the compute placements of a \(profile.slices)-slice '\(profile.name)'",
                locations[partition.name])
            return false
        }
        return true
    }

    /// Place: record a new instance's placement and plan its creation.
    private mutating func createMIG(_ want: MIGWant, at placement: MIGPlacement, on host: MIGHost) {
        let (gpu, mig, partition, profile) = (host.gpu, host.mig, want.partition, want.profile)
        var placed = partition
        placed.placement = placement.start
        placed.typeName = profile.name
        replaceDesired(placed)
        var reason =
            host.existing.isEmpty && !mig.currentMode
            ? "declared, not present; created once MIG mode is on" : "declared, not present"
        if mig.pendingMode && !mig.currentMode { reason += " (MIG mode is pending a GPU reset)" }
        createActions.append(
            PlannedAction(
                action: .create, target: partition.name, reason: reason, kind: .mig, gpu: gpu.address,
                type: "\(profile.id)", typeName: profile.name, address: gpu.address,
                path: "NVML nvmlDeviceCreateGpuInstanceWithPlacement(device \(mig.index))",
                value: "\(profile.name)@\(placement.start)",
                precondition: .migAbsent(
                    device: mig.index, gpu: gpu.address, profileID: profile.id, placement: placement,
                    computeSlices: partition.computeSlices, computeCount: partition.computeCount,
                    computeInstances: partition.computeInstances),
                records: [
                    OwnedPartition(
                        name: partition.name, kind: .mig, gpu: gpu.address, address: gpu.address,
                        type: profile.name, typeName: profile.name, placement: placement.start)
                ]))
    }

    /// Plans the relabelling of a kept instance that the state dir recorded under another name: no NVML call.
    private mutating func relabelMIG(_ entry: KeptMIG, on host: MIGHost) {
        let (gpu, mig, instance, profile) = (host.gpu, host.mig, entry.instance, entry.profile)
        let old = entry.previous?.name ?? ""
        relabelActions.append(
            PlannedAction(
                action: .relabel, target: entry.partition.name,
                reason: "forbc created it as '\(old)'; the manifest names it '\(entry.partition.name)' now, so it is "
                    + "kept and relabelled",
                kind: .mig, gpu: gpu.address, type: "\(profile.id)", typeName: profile.name,
                uuid: instance.uuids.first, address: gpu.address, path: "forbc state (no NVML call)",
                value: "\(profile.name)@\(instance.placement.start)",
                precondition: .migKept(
                    device: mig.index, gpu: gpu.address, profileID: profile.id, placement: instance.placement),
                records: [
                    OwnedPartition(
                        name: entry.partition.name, kind: .mig, gpu: gpu.address, uuid: instance.uuids.first,
                        address: gpu.address, type: profile.name, typeName: profile.name,
                        placement: instance.placement.start)
                ],
                forgets: [old]))
    }

    /// The name the plan gives an instance forbc has no record of: its GPU instance id on its GPU.
    static func unrecordedMIGName(_ instance: MIGInstance, on gpu: GPU) -> String {
        "\(gpu.address)/gi\(instance.id)"
    }

    mutating func destroyMIG(_ instance: MIGInstance, _ mig: MIGState, _ gpu: GPU, name: String, reason: String) {
        guard destroyed.insert("mig:\(gpu.address)/\(instance.id)").inserted else { return }
        let profile = mig.profile(id: instance.profileID)
        destroyActions.append(
            PlannedAction(
                action: .destroy, target: name, reason: reason, kind: .mig, gpu: gpu.address,
                type: "\(instance.profileID)",
                typeName: profile?.name, uuid: instance.uuids.first, address: gpu.address,
                path: "NVML nvmlGpuInstanceDestroy(device \(mig.index), GPU instance \(instance.id))",
                value: "\(profile?.name ?? "?")@\(instance.placement.start)",
                precondition: .migPresent(
                    device: mig.index, gpu: gpu.address, profileID: instance.profileID, placement: instance.placement),
                forgets: state.partitions.contains { $0.name == name } ? [name] : []))
    }
}
