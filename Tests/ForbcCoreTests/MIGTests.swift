import ForbcCore
import ForbcSimulator
import ForbcTestSupport
import Foundation
import Testing

@Suite("MIG")
struct MIGTests {
    static let tables: [(String, [MIGProfile])] = [
        ("H100 80GB", MIGTables.h100HBM3x80GB), ("A100 40GB", MIGTables.a100x40GB), ("A100 80GB", MIGTables.a100x80GB),
    ]

    /// Every multiset of profiles (as sorted profile indices into `table`), up to 8 instances.
    static func multisets(_ table: [MIGProfile], maxSize: Int = 8) -> [[Int]] {
        var result: [[Int]] = [[]]
        func extend(_ current: [Int], from: Int) {
            guard current.count < maxSize else { return }
            for i in from..<table.count {
                let next = current + [i]
                result.append(next)
                extend(next, from: i)
            }
        }
        extend([], from: 0)
        return result
    }

    /// Reference: a layout is valid when some assignment of distinct, non-overlapping placements exists
    /// (brute force over all assignments, no pruning or ordering tricks) and instance limits hold.
    static func bruteForceFits(_ profiles: [MIGProfile], occupied: UInt32 = 0, used: [Int: Int] = [:]) -> Bool {
        var counts = used
        for p in profiles {
            counts[p.id, default: 0] += 1
            if counts[p.id]! > p.instances { return false }
        }
        func go(_ i: Int, _ mask: UInt32) -> Bool {
            if i == profiles.count { return true }
            return profiles[i].placements.contains { $0.mask & mask == 0 && go(i + 1, mask | $0.mask) }
        }
        return go(0, occupied)
    }

    @Test("the H100 table is exactly the real capture's (nvml.txt, nvidia-smi mig -lgip and -lgipp)")
    func h100MatchesCapture() throws {
        let base = RepositoryPaths.fixture("nvidia-h100-80gb-hbm3")
        let nvml = try String(contentsOfFile: "\(base)/nvml.txt", encoding: .utf8)
        var fromNVML: [Int: (id: Int, slices: Int, instances: Int, sms: Int, mem: Int)] = [:]
        for line in nvml.split(separator: "\n") where line.contains("gi profile") && !line.contains("err") {
            let words = line.split(separator: " ").map(String.init)
            func after(_ key: String) -> Int { Int(words[words.firstIndex(of: key)! + 1])! }
            fromNVML[after("profile")] = (
                after("id"), after("slices"), after("instances"), after("mult"), after("memMB")
            )
        }
        #expect(fromNVML.count == MIGTables.h100HBM3x80GB.count)
        for profile in MIGTables.h100HBM3x80GB {
            let real = try #require(fromNVML[profile.index])
            #expect(
                (profile.id, profile.slices, profile.instances, profile.multiprocessors, profile.memoryMiB) == (
                    real.id, real.slices, real.instances, real.sms, real.mem
                ))
        }
        // -lgip names and ids; -lgipp placements.
        let lgip = try String(contentsOfFile: "\(base)/nvidia-smi-mig-lgip.txt", encoding: .utf8)
        // Rows: "|   0  MIG 1g.10gb         19     7/7        9.75       No     16 …":
        // name, id, free/total, GiB, P2P, SMs.
        var rows: [String: [String]] = [:]
        for line in lgip.split(separator: "\n") where line.contains(" MIG ") {
            let words = line.split(separator: " ").map(String.init)
            let i = words.firstIndex(of: "MIG")!
            rows[words[i + 1]] = Array(words[(i + 2)...])
        }
        #expect(rows.count == MIGTables.h100HBM3x80GB.count)
        for profile in MIGTables.h100HBM3x80GB {
            let row = try #require(rows[profile.name], "\(profile.name) not in -lgip")
            #expect(row[0] == "\(profile.id)")
            #expect(row[1] == "\(profile.instances)/\(profile.instances)")
            #expect(
                row[2]
                    == String(format: "%.2f", Double(profile.memoryMiB) / 1024).replacingOccurrences(
                        of: ".50", with: ".50"))
            #expect(row[4] == "\(profile.multiprocessors)")
        }
        let lgipp = try String(contentsOfFile: "\(base)/nvidia-smi-mig-lgipp.txt", encoding: .utf8)
        for profile in MIGTables.h100HBM3x80GB {
            let starts = profile.placements.map { "\($0.start)" }.joined(separator: ",")
            let size = profile.placements[0].size
            #expect(
                lgipp.split(separator: "\n").contains {
                    $0.contains("Profile ID \(String(profile.id).leftPadded(2))") && $0.hasSuffix("{\(starts)}:\(size)")
                },
                "\(profile.name)")
        }
    }

    @Test("every valid layout is placed, every invalid one is refused with a reason", arguments: tables.map(\.0))
    func exhaustiveLayouts(table name: String) {
        let table = Self.tables.first { $0.0 == name }!.1
        var valid = 0
        var invalid = 0
        for multiset in Self.multisets(table) {
            let profiles = multiset.map { table[$0] }
            let placed = MIGLayout.place(profiles, occupied: 0)
            let reference = Self.bruteForceFits(profiles)
            #expect((placed != nil) == reference, "\(profiles.map(\.name))")
            if let placed {
                valid += 1
                // Offered placements, no overlap.
                var mask: UInt32 = 0
                for (profile, placement) in zip(profiles, placed) {
                    #expect(profile.placements.contains(placement))
                    #expect(mask & placement.mask == 0)
                    mask |= placement.mask
                }
            } else {
                invalid += 1
                #expect(!MIGLayout.whyNot(profiles, kept: []).isEmpty)
            }
        }
        #expect(valid > 100 && invalid > 100, "\(valid) valid, \(invalid) invalid")
    }

    @Test(
        "the issue's examples: {3g, 2g, 1g, 1g} puts the 3g at slot 4; two 4g.40gb, eight 1g.10gb refused with why"
    )
    func examples() {
        let t = Dictionary(uniqueKeysWithValues: MIGTables.h100HBM3x80GB.map { ($0.name, $0) })
        let placed = MIGLayout.place([t["3g.40gb"]!, t["2g.20gb"]!, t["1g.10gb"]!, t["1g.10gb"]!], occupied: 0)
        #expect(placed?.first == MIGPlacement(start: 4, size: 4))
        #expect(MIGLayout.place([t["4g.40gb"]!, t["4g.40gb"]!], occupied: 0) == nil)
        #expect(
            MIGLayout.whyNot([t["4g.40gb"]!, t["4g.40gb"]!], kept: [])
                == "2 × '4g.40gb' exceed the 1 instance of '4g.40gb' the GPU allows")
        #expect(
            MIGLayout.whyNot(Array(repeating: t["1g.10gb"]!, count: 8), kept: [])
                == "8 × '1g.10gb' exceed the 7 instances of '1g.10gb' the GPU allows")
        #expect(
            MIGLayout.whyNot([t["4g.40gb"]!, t["3g.40gb"]!, t["1g.10gb"]!], kept: [])
                == "they need 9 memory slices and the GPU has 8")
    }

    /// Valid layouts of a table with their placements, named by profile and ordinal ("3g.40gb#0").
    static func placedLayouts(_ table: [MIGProfile]) -> [[(String, MIGProfile, MIGPlacement)]] {
        multisets(table).compactMap { multiset in
            let profiles = multiset.map { table[$0] }
            guard let placed = MIGLayout.place(profiles, occupied: 0) else { return nil }
            var seen: [String: Int] = [:]
            return zip(profiles, placed).map { profile, placement in
                let n = seen[profile.name, default: 0]
                seen[profile.name] = n + 1
                return ("\(profile.name)#\(n)", profile, placement)
            }
        }
    }

    @Test(
        "from every valid layout to every other, only what must go is destroyed (checked against brute force)",
        arguments: tables.map(\.0))
    func transitions(table name: String) {
        let table = Self.tables.first { $0.0 == name }!.1
        let layouts = Self.placedLayouts(table)
        var pairs = 0
        for from in layouts {
            for to in layouts {
                pairs += 1
                // Kept: instances of `from` whose name `to` still declares; the rest of `from` is destroyed anyway.
                let wantedNames = Set(to.map(\.0))
                let kept = from.filter { wantedNames.contains($0.0) }
                let keptNames = Set(kept.map(\.0))
                let new = to.filter { !keptNames.contains($0.0) }.map(\.1)
                guard let solution = MIGLayout.minimalMoves(kept: kept.map { ($0.1, $0.2) }, new: new) else {
                    Issue.record("\(from.map(\.0)) → \(to.map(\.0)): no solution")
                    continue
                }
                // Brute force: the fewest kept instances whose removal lets the rest stay and everything else fit.
                var best = Int.max
                for subset in 0..<(1 << kept.count) {
                    let moved = (0..<kept.count).filter { subset & (1 << $0) != 0 }
                    guard moved.count < best else { continue }
                    let staying = (0..<kept.count).filter { subset & (1 << $0) == 0 }
                    let mask = staying.reduce(UInt32(0)) { $0 | kept[$1].2.mask }
                    var used: [Int: Int] = [:]
                    for i in staying { used[kept[i].1.id, default: 0] += 1 }
                    if Self.bruteForceFits(new + moved.map { kept[$0].1 }, occupied: mask, used: used) {
                        best = moved.count
                    }
                }
                #expect(solution.moved.count == best, "\(from.map(\.0)) → \(to.map(\.0))")
            }
        }
        #expect(pairs > 10_000)
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}
