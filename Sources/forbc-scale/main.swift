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

/// `forbc-scale converged` times only the converged hosts (the last part).
let onlyConverged = CommandLine.arguments.dropFirst().first == "converged"
if !onlyConverged { try small() }

func small() throws {
    print("forbc-scale: simulated host of \(gpus) GPUs, \(perGPU) partitions each (\(gpus * perGPU) in all)")
    let empty = try measure("empty host (every partition to create)")
    let start = DispatchTime.now().uptimeNanoseconds
    let report = try host.apply(empty)
    let applyMS = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
    print(
        "apply of \(report.done.count) creations: \(String(format: "%.1f", applyMS)) ms, "
            + "\(kernel.counters.writes) writes")
    _ = try measure("converged host (\(try host.discover().mdevs.count) partitions present)")

    /// Plans and applies `count` creations on a fresh host (journaled like a command's simulated host), timed.
    func applyScaling(_ count: Int) throws -> (plan: Double, apply: Double, writes: Int) {
        let perGPU = count / gpus
        let manifest = try ManifestParser.parse(
            text: LargeHost.manifest(gpus: gpus, perGPU: perGPU), file: "large.yaml")
        let kernel = SimulatedKernel(model: LargeHost.model(gpus: gpus, perGPU: perGPU))
        let directory = makeTemporaryDirectory("scale-apply")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = StateStore(directory: directory)
        try store.ensureDirectory()
        kernel.journal(to: store.simulatedJournalURL)
        let host = HostSession(sysfs: kernel, store: store, simulation: kernel)
        let start = DispatchTime.now().uptimeNanoseconds
        let plan = try host.plan(manifest)
        let planned = DispatchTime.now().uptimeNanoseconds
        let report = try host.apply(plan)
        let applied = DispatchTime.now().uptimeNanoseconds
        guard report.succeeded, report.done.count == count else {
            throw ForbcError(
                .system, "apply of \(count) creations did not finish: \(String(describing: report.failed))")
        }
        return (Double(planned - start) / 1e6, Double(applied - planned) / 1e6, kernel.counters.writes)
    }

    print("apply scaling (\(gpus) GPUs; plan and apply of N creations on an empty host, state journaled per step):")
    var applyTimes: [Int: Double] = [:]
    for count in [512, 2048, 8192] {
        let (planMS, applyMS, writes) = try applyScaling(count)
        applyTimes[count] = applyMS
        print(
            "  N = \(count): plan \(String(format: "%.1f", planMS)) ms, apply \(String(format: "%.1f", applyMS)) ms "
                + "(\(writes) writes, \(String(format: "%.1f", applyMS * 1000 / Double(count))) µs per creation)")
    }
    print(
        "  apply 8192 / apply 512 = \(String(format: "%.1f", applyTimes[8192]! / applyTimes[512]!))× "
            + "(16× more creations; linear is 16×)")

}

/// A converged host of `count` partitions: the mdevs the manifest declares exist (UUIDs as forbc derives them) and
/// the state records them, as an apply would have left it; built directly, since applying 64,000 takes long.
func convergedHost(_ count: Int) throws -> (host: HostSession, manifest: Manifest, directory: URL) {
    // A manifest declares at most 4,096 partitions (its entries repeat on each GPU they select): 16 GPUs, and
    // entries of at most 1,000 (a `count` is at most 1,024).
    let gpus = 16
    let perGPU = count / gpus
    let entries = (perGPU + 999) / 1000
    let each = perGPU / entries
    let lines = (0..<entries).map { "        - {name: p\($0), type: BENCH-1Q, count: \(each)}" }
    let text = LargeHost.manifest(gpus: gpus, perGPU: 1).split(separator: "\n").dropLast().joined(separator: "\n")
    let manifest = try ManifestParser.parse(
        text: text + "\n" + lines.joined(separator: "\n") + "\n", file: "large.yaml")
    var model = LargeHost.model(gpus: 1, perGPU: perGPU)
    let template = model.devices[0]
    model.devices = (0..<gpus).map { i in
        var device = template
        device.address = "0000:" + String(format: "%02x", 0x10 + i * 0x08) + ":00.0"
        device.numaNode = i % 2
        device.iommuGroup = 10 + i
        return device
    }
    let kernel = SimulatedKernel(model: model)
    var owned: [OwnedPartition] = []
    for (i, device) in model.devices.enumerated() {
        for k in 0..<entries * each {
            let name = "p\(k / each)-\(i * each + k % each)"
            let uuid = UUIDv5.partition(host: manifest.name, name: name)
            try kernel.write(SysPath.mdevType(device.address, "nvidia-900", "create"), uuid)
            owned.append(
                OwnedPartition(
                    name: name, kind: .mdev, gpu: device.address, uuid: uuid, address: device.address,
                    parent: device.address, type: "nvidia-900", typeName: "NVIDIA BENCH-1Q"))
        }
    }
    let directory = makeTemporaryDirectory("scale-converged")
    let store = StateStore(directory: directory)
    try store.ensureDirectory()
    try store.save(HostState(host: manifest.name, partitions: owned.sorted { $0.name < $1.name }))
    kernel.resetCounters()
    return (HostSession(sysfs: kernel, store: store, simulation: kernel), manifest, directory)
}

/// The median of `runs` timings of `body`, in milliseconds.
func median(_ runs: Int, _ body: () throws -> Void) rethrows -> Double {
    var times: [Double] = []
    for _ in 0..<runs {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
    }
    return times.sorted()[runs / 2]
}

print("plan and drift on a converged host (16 GPUs; discovery included; median):")
var planTimes: [Int: Double] = [:]
for count in [512, 8192, 64000] {
    let (host, manifest, directory) = try convergedHost(count)
    defer { try? FileManager.default.removeItem(at: directory) }
    let plan = try host.plan(manifest)
    guard plan.actions.isEmpty, plan.partitions.count == count else {
        throw ForbcError(.system, "the converged host of \(count) is not converged: \(plan.actions.count) actions")
    }
    let runs = count > 10000 ? 3 : 9
    let planMS = try median(runs) { _ = try host.plan(manifest) }
    let driftMS = try median(runs) {
        let report = DriftReport(plan: try host.plan(manifest), manifest: manifest)
        guard report.items.isEmpty else { throw ForbcError(.system, "drift on a converged host: \(report.items)") }
    }
    planTimes[count] = planMS
    print(
        "  N = \(count): plan \(String(format: "%.1f", planMS)) ms, drift \(String(format: "%.1f", driftMS)) ms "
            + "(\(String(format: "%.2f", planMS * 1000 / Double(count))) µs per partition, median of \(runs))")
}
print(
    "  plan 64000 / plan 512 = \(String(format: "%.1f", planTimes[64000]! / planTimes[512]!))× "
        + "(125× more partitions; linear is 125×)")
