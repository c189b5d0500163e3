import ForbcCore
import ForbcTestSupport
import Testing

/// The diagnostics applying `manifest` gives on `fixture`'s simulated host, and proof that nothing was written
/// (neither sysfs nor NVML, and the simulated host's model unchanged): shared by the vGPU suites.
func refusal(_ fixture: SimulatedHostFixture, _ manifest: Manifest) throws -> [String] {
    let (writes, calls, before) = (
        fixture.kernel.counters.writes, fixture.kernel.counters.nvmlCalls, fixture.kernel.model
    )
    do {
        _ = try fixture.apply(manifest)
        return []
    } catch let error as DiagnosticsError {
        #expect(fixture.kernel.counters.writes == writes && fixture.kernel.counters.nvmlCalls == calls)
        #expect(fixture.kernel.model == before)
        return error.diagnostics.map(\.description)
    }
}
