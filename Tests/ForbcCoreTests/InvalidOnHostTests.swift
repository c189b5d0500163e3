import ForbcCore
import ForbcSimulator
import ForbcTestSupport
import Foundation
import Testing

/// Tests/Fixtures/invalid-on-host: manifests that only a host can refuse (its NVML catalogue, MIG layout or
/// scheduler capabilities), each planned on its simulated profile: a located diagnostic, nothing written.
@Suite("invalid on a host")
struct InvalidOnHostTests {
    static let cases: [(String, String, String)] = {
        let text = try! String(contentsOfFile: RepositoryPaths.fixture("invalid-on-host/EXPECTED"), encoding: .utf8)
        return text.split(separator: "\n").filter { !$0.hasPrefix("#") }.map { line in
            let fields = line.split(separator: "\t", maxSplits: 2).map(String.init)
            return (fields[0], fields[1], fields[2])
        }
    }()

    @Test("each manifest is valid alone and refused on its host, with nothing changed", arguments: cases)
    func refused(file: String, profile: String, expected: String) throws {
        let path = RepositoryPaths.fixture("invalid-on-host/\(file)")
        let manifest = try ManifestParser.parse(contentsOf: path)
        let fixture = try SimulatedHostFixture(profile: profile)
        let before = fixture.kernel.model
        do {
            _ = try fixture.apply(manifest)
            Issue.record("\(file) was applied on '\(profile)'")
        } catch let error as DiagnosticsError {
            #expect(error.diagnostics.first?.description == "\(path):\(expected)")
        }
        #expect(fixture.kernel.model == before)
        #expect(fixture.kernel.counters.writes == 0 && fixture.kernel.counters.nvmlCalls == 0)
    }
}
