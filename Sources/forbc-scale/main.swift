// Discovery + plan of a large simulated host, timed; prints figures (run it with `swift run -c release forbc-scale`).
// Not a test: speed is measured here, never asserted in unit tests.
import ForbcCore
import ForbcSimulator
import ForbcTestSupport
import Foundation

let gpus = 8
let perGPU = 64
let iterations = 30
let manifest = try ManifestParser.parse(text: LargeHost.manifest(gpus: gpus, perGPU: perGPU), file: "large.yaml")
let kernel = SimulatedKernel(model: LargeHost.model(gpus: gpus, perGPU: perGPU))
let state = makeTemporaryDirectory("bench")
defer { try? FileManager.default.removeItem(at: state) }
let host = HostSession(sysfs: kernel, store: StateStore(directory: state), simulation: kernel)

/// Every attribute (file) and link the simulated sysfs holds under the roots forbc reads.
func census() throws -> (files: Int, links: Int, directories: Int) {
    var files = 0
    var links = 0
    var directories = 0
    func walk(_ path: String) throws {
        if try kernel.readLink(path) != nil {
            links += 1
            return
        }
        if let names = try? kernel.list(path) {
            directories += 1
            for name in names { try walk("\(path)/\(name)") }
        } else {
            files += 1
        }
    }
    for root in [SysPath.pciDevices, SysPath.mdevBus, SysPath.mdevDevices] where kernel.exists(root) { try walk(root) }
    kernel.resetCounters()
    return (files, links, directories)
}

func measure(_ label: String) throws -> Plan {
    var times: [Double] = []
    var plan: Plan?
    var counters = SimulatedKernel.Counters()
    for _ in 0..<iterations {
        kernel.resetCounters()
        let start = DispatchTime.now().uptimeNanoseconds
        plan = try host.plan(manifest)
        times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        counters = kernel.counters
    }
    times.sort()
    let (files, links, directories) = try census()
    print(
        "\(label): \(plan!.actions.count) actions; discovery + plan median "
            + "\(String(format: "%.2f", times[times.count / 2])) ms, "
            + "min \(String(format: "%.2f", times[0])) ms, max \(String(format: "%.2f", times[times.count - 1])) ms "
            + "over \(iterations) runs"
    )
    print(
        "  sysfs per run: \(counters.reads) attribute reads (incl. existence checks), \(counters.lists) directory "
            + "listings, \(counters.links) link reads; "
            + "the tree holds \(files) attributes, \(links) links, \(directories) directories")
    return plan!
}

print("forbc-scale: simulated host of \(gpus) GPUs, \(perGPU) partitions each (\(gpus * perGPU) in all)")
let empty = try measure("empty host (every partition to create)")
let start = DispatchTime.now().uptimeNanoseconds
let report = try host.apply(empty)
let applyMS = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
print(
    "apply of \(report.done.count) creations: \(String(format: "%.1f", applyMS)) ms, \(kernel.counters.writes) writes")
_ = try measure("converged host (\(try host.discover().mdevs.count) partitions present)")
