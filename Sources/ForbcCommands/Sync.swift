import ArgumentParser
import ForbcCore
import Foundation

/// `forbc sync`: the pull model for a timer. Fetches a repository into forbc's own checkout, refuses what must
/// not be applied (a checkout someone edited, a commit whose signature git does not accept, no manifest for this
/// host, destruction not allowed), then plans and applies this host's manifest and records the commit.
struct Sync: HostCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Apply this host's manifest from a git repository, and record the commit (for a timer).",
        discussion: """
            In '--path', %H stands for the short host name (up to the first dot), %h for the whole host name \
            and %% for a percent sign. In a systemd unit write %%H: systemd expands %H itself.

            forbc keeps its own checkout (default STATE-DIR/sync/checkout): cloned the first time, then fetched \
            and moved to the fetched commit. It never asks: destroying or hot-unplugging partitions that the \
            manifest no longer declares needs '--yes', else the commit is refused. Benchmarks do not run.

            sync never goes back in history on its own: a fetched commit that does not have the last synced one \
            in its history (a force-push of an older commit, a rewritten history, another branch) is refused \
            unless '--allow-rollback' is passed, signed or not.

            A token in the '--repo' URL stays in the checkout's .git/config (a directory only forbc's user reads) \
            and is never shown or recorded; a git credential helper keeps it out of the URL, and is preferred.

            Exit codes: 0 the host matches the commit (changes applied, or none needed); 1 error (git, the \
            manifest, the host; the report says what apply did); 2 refused (a dirty checkout, an unsigned or \
            unverified commit with '--require-signed', a rollback without '--allow-rollback', no manifest for \
            this host, destruction without '--yes'): nothing applied, the checkout and the recorded commit \
            unchanged.

            Examples:
              forbc sync --repo https://git.example/infra.git --path hosts/%H.yaml
              forbc sync --repo /srv/infra.git --path hosts/%H.yaml --require-signed --yes
            """)

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("The repository: a URL git can fetch, or a local path.", valueName: "URL|PATH"))
    var repo: String

    @Option(
        help: ArgumentHelp(
            "The manifest's path in the repository; %H: short host name, %h: host name, %%: '%'.",
            valueName: "TEMPLATE"))
    var path: String

    @Option(help: ArgumentHelp("The branch to follow (default: the repository's HEAD).", valueName: "BRANCH"))
    var branch: String?

    @Option(help: ArgumentHelp("forbc's checkout (default: STATE-DIR/sync/checkout).", valueName: "DIR"))
    var checkout: String?

    @Flag(name: .customLong("require-signed"), help: "Refuse a commit unless 'git verify-commit' accepts it.")
    var requireSigned = false

    @Option(
        name: .customLong("allowed-signers"),
        help: ArgumentHelp(
            "The SSH keys allowed to sign (git's gpg.ssh.allowedSignersFile); OpenPGP uses gpg's keyring.",
            valueName: "FILE"))
    var allowedSigners: String?

    @Flag(
        name: .customLong("allow-rollback"),
        help: "Take a commit that does not descend from the last synced one (a rollback, a rewritten history).")
    var allowRollback = false

    @Flag(help: "Destroy and hot-unplug what the manifest no longer declares (otherwise such a commit is refused).")
    var yes = false

    @Option(help: ArgumentHelp("The host name %H and %h stand for (default: this machine's).", valueName: "NAME"))
    var hostname: String?

    func validate() throws {
        if let branch, branch.isEmpty || branch.hasPrefix("-") || branch.contains(where: \.isWhitespace) {
            throw ValidationError("'--branch \(branch)' is not a branch name")
        }
        if repo.isEmpty || repo.hasPrefix("-") { throw ValidationError("'--repo \(repo)' is not a repository") }
    }

    func execute() throws {
        let relative = try SyncPath.resolve(path, hostname: hostname ?? Self.systemHostname())
        let host = try global.openHost()
        let directory = checkout.map(Self.absolute) ?? host.store.directory.appendingPathComponent("sync/checkout").path
        let checkout = SyncCheckout(git: RealGit(), directory: directory, remote: Self.remote(repo))
        do {
            try host.locked { try sync(host: host, checkout: checkout, path: relative) }
        } catch let refusal as SyncRefused {
            Console.current.err("error: refused: \(ManifestSource.withoutCredentials(refusal.message))")
            throw ExitCode(2)
        } catch var error as ForbcError {
            // git's own words may quote the URL as given: no message shows a credential.
            error.message = ManifestSource.withoutCredentials(error.message)
            throw error
        }
    }

    /// Fetch, verify, check out, plan, apply, record; the host lock is held.
    func sync(host: HostSession, checkout: SyncCheckout, path: String) throws {
        let synced = try SyncRecord.load(from: host.store)?.commit
        let (commit, fresh) = try checkout.fetch(branch: branch)
        let previous = fresh ? nil : try checkout.head()
        do {
            if let synced, !allowRollback { try checkout.requireDescendant(of: synced, commit) }
            if requireSigned { try checkout.verifySignature(commit, allowedSigners: allowedSigners.map(Self.absolute)) }
            try checkout.requireManifest(commit, path: path, host: hostname ?? Self.systemHostname())
        } catch {
            if fresh { checkout.discard() }
            throw error
        }
        try checkout.checkOut(commit)
        let plan: Plan
        do {
            plan = try host.plan(try manifest(in: checkout, path: path))
            if !yes { try refuseDisruption(plan, commit: commit) }
        } catch {
            // The checkout goes back to where it was: a refused or broken commit is not left checked out.
            if let previous { try? checkout.checkOut(previous) } else if fresh { checkout.discard() }
            throw error
        }
        let (report, signalled) = try apply(plan, on: host)
        try SyncRecord(
            repository: checkout.shown, branch: branch, path: path, commit: commit, syncedAt: Date(),
            changes: report.done.count
        ).save(in: host.store)
        try summarize(plan, report: report, commit: commit, previous: synced, path: path, remote: checkout.shown)
        // The host matches the commit (recorded), but a signal came: the caller learns it from the status.
        if let signalled { throw ExitCode(signalled) }
    }

    /// The manifest at `path` in the checkout, with its provenance (which must be readable: the checkout is
    /// forbc's own); a path that leads out of the checkout (a symbolic link) is refused.
    func manifest(in checkout: SyncCheckout, path: String) throws -> Manifest {
        let root = URL(fileURLWithPath: checkout.directory).resolvingSymlinksInPath().path
        let file = URL(fileURLWithPath: checkout.directory).appendingPathComponent(path)
        guard file.resolvingSymlinksInPath().path.hasPrefix(root + "/") else {
            throw SyncRefused("'\(path)' leads out of the checkout (a symbolic link); nothing applied")
        }
        var manifest = try loadManifest(file.path)
        manifest.source = try ManifestSource.lookup(manifest: file.path, git: checkout.repository.git)
        return manifest
    }

    /// Without '--yes', a plan that destroys partitions or hot-unplugs them from running guests is refused.
    func refuseDisruption(_ plan: Plan, commit: String) throws {
        let destroys = plan.destroys.map { "'\($0.target)'" }
        let unplugs = plan.liveDetaches.map { "hot-unplug '\($0.target)' from running '\($0.domain ?? "?")'" }
        guard !destroys.isEmpty || !unplugs.isEmpty else { return }
        let count = destroys.count
        let destroy =
            count == 0
            ? [] : ["destroy \(count) partition\(count == 1 ? "" : "s") (\(destroys.joined(separator: ", ")))"]
        throw SyncRefused(
            "commit \(commit.prefix(12)) would \((destroy + unplugs).joined(separator: " and ")); nothing applied; "
                + "pass '--yes' to let sync destroy and hot-unplug what the manifest no longer declares")
    }

    /// Applies the plan (nothing is asked: the disruption check is done); an apply that stops is an error. With
    /// the report, the status to exit with once the commit is recorded when a signal came during the last step.
    func apply(_ plan: Plan, on host: HostSession) throws -> (report: Applier.Report, signalled: Int32?) {
        let console = Console.current
        if !plan.isEmpty && !global.json {
            console.out(Render.planText(plan, manifest: Manifest(file: "", name: plan.host), verbose: global.verbose))
        }
        // A converged host gets zero writes; the state dir still records the commit's provenance.
        // SIGTERM (a timer's unit stopped) or SIGINT: the step under way finishes, then sync stops.
        let interrupt = StepInterrupt.install(verb: "sync")
        let report = try withExtendedLifetime(interrupt) {
            defer { interrupt.uninstall() }
            return try host.apply(plan, stop: { interrupt.received })
        }
        for note in report.notes { console.err("note: \(note)") }
        if let failed = report.failed {
            console.out(Render.reportText(report, total: plan.actions.count))
            console.err("error: \(failed.error.message)")
            throw ExitCode.failure
        }
        if let stopped = report.stopped {
            console.out(Render.reportText(report, total: plan.actions.count))
            console.err(
                "error: sync stopped by \(stopped) after \(report.done.count + report.alreadyDone.count) of "
                    + "\(plan.actions.count) steps; the commit is not recorded as applied; the next sync continues")
            throw ExitCode(interrupt.exitStatus)
        }
        return (report, interrupt.stopAfterLastStep(report, steps: plan.actions.count))
    }
}
