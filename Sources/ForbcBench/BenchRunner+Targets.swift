import ForbcCore
import Foundation

extension BenchRunner {
    /// A suite's tenants: each partition of `on` (inside the running domain it is attached to, when it is), each
    /// domain of `vms`, or the host when it names neither; `tenants` copies of each.
    static func tenants(of suite: BenchmarkSpec, plan: Plan, inventory: Inventory) -> [Tenant] {
        var targets: [Tenant] = suite.on.map { target(partition: $0, plan: plan, inventory: inventory) }
        for name in suite.vms {
            let domain = inventory.domains?.first { $0.name == name }
            let down = domain?.isActive == true ? nil : "domain '\(name)' is not running; start it to measure in it"
            targets.append(Tenant(name: name, environment: [:], domain: domain, unreachable: down))
        }
        if targets.isEmpty { targets = [Tenant(name: "host", environment: [:])] }
        return targets.flatMap { target in
            (0..<suite.tenants).map { copy in
                var tenant = target
                if suite.tenants > 1 { tenant.name = "\(target.name)#\(copy)" }
                return tenant
            }
        }
    }

    /// One partition target: its access variable, and the running domain that holds it, if any.
    static func target(partition name: String, plan: Plan, inventory: Inventory) -> Tenant {
        let partition = plan.partitions.first { $0.name == name }
        let environment = partition?.accessEnvironment ?? [:]
        // The running domain whose live definition holds the partition (a persistent-only attachment waits for
        // the next start: the guest does not have the device yet).
        let device = partition.flatMap { p in
            p.kind == .mdev ? p.uuid.map(Hostdev.mdev) : p.address.map { Hostdev.pci($0, managed: false) }
        }
        let holder = device.flatMap { device in
            inventory.domains?.first { $0.isActive && $0.liveHostdevs.contains { $0.sameDevice(device) } }
        }
        let vmOnly = partition.map { [.mdev, .vgpuVF, .sriovVF].contains($0.kind) } ?? false
        let unreachable =
            vmOnly && holder == nil
            ? "'\(name)' is a partition only a VM can use, and no running domain holds it; attach it to one "
                + "(spec.vms) and start the domain" : nil
        return Tenant(
            name: name, partition: partition, environment: environment, domain: holder, unreachable: unreachable)
    }

    /// How one tenant of a launch starts measuring: at `startAt` (profiles without `{sync}`), or when released
    /// (`sync`, its rendezvous folder, and `tenant`, its index); neither when alone.
    struct Barrier: Sendable {
        var startAt = 0.0
        var sync = ""
        var tenant = 0
        /// Seconds the tenant waits for `go` once ready (`{sync_timeout}`).
        var syncTimeout = 0.0
    }

    /// One launch of one tenant: on the host, or inside its domain through the guest agent, from this run's copy
    /// of the workload folder there; nothing in a domain whose agent stopped answering earlier in the run
    /// (`silent`, its words: a failure, or the copy's own failure when it had one).
    func run(
        _ job: Job, in tenant: Tenant, warmups: Int, barrier: Barrier, window: Double, log: URL, silent: String? = nil
    ) -> WorkloadRunner.Outcome {
        if let reason = tenant.unreachable {
            return WorkloadRunner.Outcome(values: [:], failure: reason, log: log.path, seconds: 0)
        }
        var processes = self.processes
        var directory = job.directory
        if let domain = tenant.domain {
            guard let agent else {
                let reason = "'\(tenant.name)' runs in domain '\(domain.name)', and no guest agent channel is open"
                return WorkloadRunner.Outcome(values: [:], failure: reason, log: log.path, seconds: 0)
            }
            if let words = silent {
                var reason =
                    "not run: the guest agent of '\(domain.name)' stopped answering earlier in this run: \(words)"
                if case .failed(let copying) = staging.value["\(job.runID)\n\(domain.name)\n\(job.directory)"] {
                    reason = copying
                }
                return WorkloadRunner.Outcome(values: [:], failure: reason, log: log.path, seconds: 0)
            }
            switch staged(job.directory, in: domain.name, runID: job.runID, agent: agent) {
            case .failed(let reason):
                return WorkloadRunner.Outcome(values: [:], failure: reason, log: log.path, seconds: 0)
            case .copied(let folder):
                directory = folder
            }
            processes = GuestProcesses(agent: agent, domain: domain.name)
        }
        return WorkloadRunner(processes: processes).run(
            job.profile, directory: directory, environment: tenant.environment, repetitions: job.suite.repetitions,
            warmups: warmups, startAt: barrier.startAt, window: window, sync: barrier.sync, tenant: barrier.tenant,
            syncTimeout: barrier.syncTimeout, log: log)
    }
}
