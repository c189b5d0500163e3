import ForbcCore
import ForbcTestSupport
import Foundation
import Testing

/// `kind: Campaign` documents: the example, and each problem reported at its place, all at once.
@Suite("campaign parsing")
struct CampaignTests {
    @Test("the example campaign: four topology files in order, one suite, the baseline, the workload folder")
    func example() throws {
        let path = RepositoryPaths.root.appendingPathComponent("Manifests/campaigns/mig-sim.yaml").path
        let campaign = try CampaignParser.parse(contentsOf: path)
        #expect(campaign.name == "mig-sim" && campaign.contentHash.count == 16)
        #expect(campaign.topologies.map(\.name) == ["all-1g", "balanced", "all-3g", "all-7g"])
        #expect(campaign.topologies.allSatisfy { $0.file?.hasSuffix("campaigns/mig-sim/\($0.name).yaml") == true })
        #expect(campaign.topologies.map { $0.manifest.gpus.first?.mig.count } == [2, 3, 2, 1])
        #expect(campaign.baselineTopology == "all-7g")
        #expect(campaign.workloads?.hasSuffix("campaigns/../workloads") == true)
        let measured = campaign.measured(campaign.topologies[1])
        #expect(measured.benchmarks.map(\.suite) == ["cpu"] && measured.benchmarks[0].on == ["first"])
        #expect(CampaignParser.declaredKind(ofFileAt: path) == "Campaign")
    }

    func problems(_ text: String) -> [String] {
        let folder = makeTemporaryDirectory("campaign-parse")
        let file = folder.appendingPathComponent("c.yaml").path
        do {
            _ = try CampaignParser.parse(text: text, file: file)
            return []
        } catch let error as DiagnosticsError {
            return error.diagnostics.map { $0.description.replacingOccurrences(of: folder.path + "/", with: "") }
        } catch {
            return ["\(error)"]
        }
    }

    @Test("every problem at once, each located: keys, names, references, an inline manifest's own problems")
    func problemsLocated() {
        let found = problems(
            """
            apiVersion: forbc/v1
            kind: Campaign
            metadata: {name: c}
            spec:
              topologies:
                - {name: a, manifest: {apiVersion: forbc/v1, kind: Host, metadata: {name: h}, spec: {gpus: 3}}}
                - {name: b, manifest: {apiVersion: forbc/v1, kind: Host, metadata: {name: h}, spec: {}}}
                - {name: b, manifest: {apiVersion: forbc/v1, kind: Host, metadata: {name: h}, spec: {}}, suites: [x]}
                - {name: c, manifst: c.yaml}
                - {name: d, manifest: d.yaml}
              suites:
                - {suite: s, on: [gpu0], workloads: [cpu-gemm]}
              baseline: z
              launches: 5
              maxLaunches: 2
            """)
        #expect(
            found == [
                "c.yaml:6:96: error: 'spec.gpus' must be a list, not the integer 3",
                "c.yaml:8:7: error: topology name 'b' is used twice (first at line 7); it tags the results, so each "
                    + "is unique",
                "c.yaml:8:7: error: topology 'b' runs suite 'x', which 'spec.suites' does not hold; it has s",
                "c.yaml:9:7: error: 'spec.topologies[3]' has no 'manifest'; give a Host manifest's path (relative "
                    + "to this file) or inline",
                "c.yaml:9:17: error: unknown key 'manifst' in 'spec.topologies[3]'; did you mean 'manifest'?",
                "c.yaml:10:27: error: 'spec.topologies[4].manifest' names 'd.yaml', and 'd.yaml' does not exist",
                "c.yaml:12:23: error: suite 's' runs on 'gpu0', which topology 'b' (inline) does not declare; it "
                    + "declares no partition",
                "c.yaml:15:16: error: 'spec.maxLaunches' is 2, below 'spec.launches' (5)",
            ], "\(found)")
    }

    @Test("a Host manifest is not a campaign; a campaign needs topologies and suites")
    func kinds() {
        #expect(
            problems("apiVersion: forbc/v1\nkind: Host\nmetadata: {name: c}\nspec: {topologies: []}\n") == [
                "c.yaml:2:7: error: kind is 'Host'; 'forbc bench campaign' reads documents of kind 'Campaign'",
                "c.yaml:4:7: error: missing 'spec.suites'; list the benchmark suites to run on each topology",
                "c.yaml:4:20: error: 'spec.topologies' is empty; list at least one topology",
            ])
    }

    @Test("a baseline that is no topology of the campaign")
    func baseline() {
        let text = """
            apiVersion: forbc/v1
            kind: Campaign
            metadata: {name: c}
            spec:
              topologies: [{name: a, manifest: {apiVersion: forbc/v1, kind: Host, metadata: {name: h}, spec: {}}}]
              suites: [{suite: s, workloads: [cpu-gemm]}]
              baseline: b
            """
        #expect(
            problems(text) == [
                "c.yaml:7:13: error: 'spec.baseline' is 'b', which is not a topology of this campaign; it has a"
            ])
    }

    @Test("inline topologies: walked as Host manifests, each with a hash of its own")
    func inline() throws {
        let host = "{apiVersion: forbc/v1, kind: Host, metadata: {name: h}, spec: {}}"
        let campaign = try CampaignParser.parse(
            text: """
                apiVersion: forbc/v1
                kind: Campaign
                metadata: {name: c}
                spec:
                  topologies: [{name: a, manifest: \(host)}, {name: b, manifest: \(host)}]
                  suites: [{suite: s, workloads: [cpu-gemm]}]
                  repetitions: 3
                """, file: "c.yaml")
        #expect(campaign.topologies.map { $0.manifest.name } == ["h", "h"])
        #expect(campaign.topologies.allSatisfy { $0.file == nil })
        #expect(Set(campaign.topologies.map(\.manifest.contentHash)).count == 2)
        #expect(campaign.measured(campaign.topologies[0]).benchmarks.map(\.repetitions) == [3])
    }
}
