import ForbcCore
import ForbcSimulator
import ForbcTestSupport
import Foundation
import Testing
import Yams

@Suite("forbc export: an emitted YAML document that round-trips and plans to zero changes")
struct ExportTests {
    /// The export of the fixture's current state (with its domains), as YAML text.
    func export(_ fixture: SimulatedHostFixture, hostName: String? = nil) throws -> String {
        try exporter(fixture).manifest(hostName: hostName)
    }

    /// An exporter of the fixture's current state; `domains: false` for fixtures without libvirt.
    func exporter(_ fixture: SimulatedHostFixture, domains: Bool = true) throws -> Exporter {
        Exporter(inventory: try fixture.inventory(domains: domains), state: try fixture.state())
    }

    /// The export read back by Yams as plain objects.
    func load(_ yaml: String) throws -> [String: Any] {
        try #require(try Yams.load(yaml: yaml) as? [String: Any], "export:\n\(yaml)")
    }

    /// Each `gpus[]` entry's `vgpu` or `mig` list (empty for `sriov` and `passthrough` entries).
    static func partitionEntries(_ document: [String: Any]) -> [[[String: Any]]] {
        let spec = document["spec"] as? [String: Any] ?? [:]
        return (spec["gpus"] as? [[String: Any]] ?? []).map { gpu in
            (gpu["vgpu"] as? [[String: Any]]) ?? (gpu["mig"] as? [[String: Any]]) ?? []
        }
    }

    /// The `vgpu` list of the entry selecting `address`.
    static func vgpu(_ document: [String: Any], _ address: String) -> [[String: Any]] {
        let gpus = (document["spec"] as? [String: Any])?["gpus"] as? [[String: Any]] ?? []
        let gpu = gpus.first { ($0["select"] as? [String: Any])?["pciAddress"] as? String == address }
        return gpu?["vgpu"] as? [[String: Any]] ?? []
    }

    /// JSON text of plain objects with sorted keys, to compare two documents.
    static func canonicalJSON(_ object: Any) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }

    @Test("a newline, a double quote and a backslash in the host name and a recorded name survive YAML and JSON")
    func awkwardValues() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-t4")
        #expect(try fixture.apply(try fixture.manifest("nvidia-t4")).report.succeeded)
        let odd = "ml \"quoted\"\nsecond line: - {x} # not a comment\\"
        var state = try fixture.state()
        let index = try #require(state.partitions.firstIndex { $0.name == "ml" })
        state.partitions[index].name = odd
        try fixture.session.store.save(state)
        let host = "host \"a\"\nb\\c: {d}"

        let yaml = try export(fixture, hostName: host)
        let document = try load(yaml)
        #expect((document["metadata"] as? [String: Any])?["name"] as? String == host, "export:\n\(yaml)")
        let names = Self.vgpu(document, "0000:d8:00.0").compactMap { $0["name"] as? String }
        #expect(names == [odd], "export:\n\(yaml)")
        let vms = (document["spec"] as? [String: Any])?["vms"] as? [[String: Any]] ?? []
        #expect(
            vms.contains { ($0["attach"] as? [String])?.contains(odd) == true },
            "attachments name it as the entry does")
        #expect(
            yaml.split(separator: "\n").filter { !$0.hasPrefix(" ") && !$0.hasPrefix("#") }.count == 4,
            "only apiVersion, kind, metadata and spec start a line: \(yaml)")
        let json = try exporter(fixture).jsonObject(hostName: host)
        #expect(try Self.canonicalJSON(json) == Self.canonicalJSON(document))
    }

    @Test(
        "each profile's manifest applied, exported: names in order, types by name; plans nothing, records or none",
        arguments: SimulatedProfiles.names)
    func profile(name profile: String) throws {
        let fixture = try SimulatedHostFixture(profile: profile)
        // Every profile but qemu-nvme-sriov has a manifest; that one is exported as it boots (no partition).
        if FileManager.default.fileExists(atPath: RepositoryPaths.manifest(profile)) {
            #expect(try fixture.apply(try fixture.manifest(profile)).report.succeeded)
        }
        let yaml = try export(fixture)
        #expect(yaml.hasPrefix("# Exported by forbc from a SIMULATED host"))
        #expect(yaml.contains("\n# Applying it to the same host plans zero changes"))
        let document = try load(yaml)
        for entries in Self.partitionEntries(document) {
            let names = entries.compactMap { $0["name"] as? String }
            #expect(names.count == entries.count)
            #expect(
                zip(names, names.dropFirst()).allSatisfy { $0.compare($1, options: .numeric) == .orderedAscending },
                "\(names) in natural order")
        }
        let inventory = try fixture.inventory()
        let ids = Set(
            inventory.mdevParents.flatMap { $0.types.map(\.id) }
                + inventory.gpus.flatMap { $0.vfs.flatMap { $0.vgpu?.creatable.map { "\($0.id)" } ?? [] } })
        let types = Self.partitionEntries(document).flatMap { $0.compactMap { $0["type"] as? String } }
        #expect(types.allSatisfy { !ids.contains($0) }, "every simulated type has a unique name: \(types)")

        let manifest = try ManifestParser.parse(text: yaml, file: "\(profile)-export.yaml")
        let plan = try fixture.plan(manifest)
        #expect(plan.isEmpty, "export:\n\(yaml)\nplans: \(plan.actions.map { "\($0.target): \($0.reason)" })")
        #expect(try Self.canonicalJSON(try exporter(fixture).jsonObject()) == Self.canonicalJSON(document))
        try recordsLost(fixture, profile: profile)
    }

    /// Records lost (state.json and state.journal gone: a new state dir, a reinstall): what the host holds is
    /// adopted. The profile's manifest and a new export of the host plan nothing, and apply records it all again.
    func recordsLost(_ fixture: SimulatedHostFixture, profile: String) throws {
        let recorded = try fixture.state().partitions
        try fixture.session.store.save(HostState())
        let yaml = try export(fixture)
        let plan = try fixture.plan(try ManifestParser.parse(text: yaml, file: "\(profile)-bare.yaml"))
        #expect(plan.isEmpty, "export:\n\(yaml)\nplans: \(plan.actions.map { "\($0.target): \($0.reason)" })")
        guard FileManager.default.fileExists(atPath: RepositoryPaths.manifest(profile)) else { return }
        let manifest = try fixture.manifest(profile)
        let again = try fixture.plan(manifest)
        #expect(again.isEmpty, "plans: \(again.actions.map { "\($0.target): \($0.reason)" })")
        let applied = try fixture.apply(manifest)
        #expect(applied.report.succeeded && applied.writes == 0)
        #expect(try fixture.state().partitions == recorded, "apply records the adopted partitions as they were")
    }

    @Test("NAME-0 … NAME-(N-1) with derived UUIDs becomes count: N; a gap, a pinned UUID or another host name do not")
    func counts() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-t4")
        let pinned = "0badc0de-0000-4000-8000-0000000000c0"
        let entries =
            ["a-0", "a-1", "b-0", "b-1", "b-3", "c-1"].map { "{name: \($0), type: T4-1Q}" }
            + ["{name: c-0, type: T4-1Q, uuid: \(pinned)}"]
        let manifest = try fixture.manifest(
            text: """
                apiVersion: forbc/v1
                kind: Host
                metadata: {name: t4}
                spec:
                  gpus:
                    - select: {index: 0}
                      vgpu: [\(entries.joined(separator: ", "))]
                """)
        #expect(try fixture.apply(manifest).report.succeeded)

        let yaml = try export(fixture)
        let listed = Self.vgpu(try load(yaml), "0000:3b:00.0")
        #expect(listed.map { $0["name"] as? String } == ["a", "b-0", "b-1", "b-3", "c-0", "c-1"], "export:\n\(yaml)")
        #expect(listed.map { $0["count"] as? Int } == [2, nil, nil, nil, nil, nil])
        #expect(
            listed.dropFirst().map { $0["uuid"] as? String }
                == ["b-0", "b-1", "b-3"].map { UUIDv5.partition(host: "t4", name: $0) }
                + [pinned, UUIDv5.partition(host: "t4", name: "c-1")])
        #expect(listed.allSatisfy { $0["type"] as? String == "T4-1Q" })
        #expect(yaml.contains("- {name: a, type: T4-1Q, count: 2}\n"), "export:\n\(yaml)")
        #expect(try fixture.plan(try fixture.manifest(text: yaml)).isEmpty, "export:\n\(yaml)")

        // Under another host name the derived UUIDs would differ: every UUID stays pinned.
        let elsewhere = try export(fixture, hostName: "elsewhere")
        let renamed = Self.vgpu(try load(elsewhere), "0000:3b:00.0")
        #expect(renamed.count == 7 && renamed.allSatisfy { $0["count"] == nil && $0["uuid"] is String })
        #expect(try fixture.plan(try fixture.manifest(text: elsewhere)).isEmpty, "export:\n\(elsewhere)")
    }

    @Test("partitions are listed in natural name order (ml-2 before ml-10), each with its recorded UUID")
    func naturalOrder() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-t4")
        #expect(
            try fixture.apply(
                try fixture.manifest(
                    text: """
                        apiVersion: forbc/v1
                        kind: Host
                        metadata: {name: t4}
                        spec:
                          gpus:
                            - select: {index: 0}
                              vgpu: [{name: p, type: T4-1Q, count: 12}]
                        """)
            ).report.succeeded)
        // Renamed records: the UUIDs are no longer the ones the names would derive.
        var state = try fixture.state()
        for i in state.partitions.indices {
            state.partitions[i].name = state.partitions[i].name.replacingOccurrences(of: "p-", with: "ml-")
        }
        try fixture.session.store.save(state)

        let yaml = try export(fixture)
        let listed = Self.vgpu(try load(yaml), "0000:3b:00.0")
        #expect(listed.map { $0["name"] as? String } == (0..<12).map { "ml-\($0)" }, "export:\n\(yaml)")
        #expect(listed.map { $0["uuid"] as? String } == (0..<12).map { UUIDv5.partition(host: "t4", name: "p-\($0)") })
        #expect(try fixture.plan(try fixture.manifest(text: yaml)).isEmpty, "export:\n\(yaml)")
    }

    @Test("a type whose name is ambiguous is exported by its id")
    func ambiguousTypeName() throws {
        var model = try #require(SimulatedProfiles.make("mtty"))
        for i in model.virtualParents[0].types.indices { model.virtualParents[0].types[i].name = "Serial" }
        let fixture = SimulatedHostFixture(model: model)
        #expect(
            try fixture.apply(
                try fixture.manifest(
                    text: """
                        apiVersion: forbc/v1
                        kind: Host
                        metadata: {name: lab}
                        spec:
                          gpus:
                            - select: {parent: mtty}
                              vgpu: [{name: one, type: mtty-1}, {name: two, type: mtty-2}]
                        """)
            ).report.succeeded)
        // A fixture made from a model has no libvirt: no domains.
        let yaml = try exporter(fixture, domains: false).manifest()
        let document = try load(yaml)
        let types = Self.partitionEntries(document).flatMap { $0.compactMap { $0["type"] as? String } }
        #expect(types == ["mtty-1", "mtty-2"], "export:\n\(yaml)")
        #expect(try fixture.plan(try fixture.manifest(text: yaml)).isEmpty, "export:\n\(yaml)")
    }
}
