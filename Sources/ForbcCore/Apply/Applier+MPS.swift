/// MPS steps: assert (re-read the daemon), then act through the MPS seam.
extension Applier {
    /// Starts, re-sets or quits one GPU's MPS daemon; false when what the step does already holds.
    func changeMPS(_ action: PlannedAction) throws -> Bool {
        guard let mps else {
            throw ForbcError(.unsupported, "the plan changes MPS on \(action.gpu ?? "?") but no MPS channel is open")
        }
        switch action.precondition {
        case .mpsAbsent(let uuid, let settings):
            if let running = try mps.daemon(gpu: uuid) {
                if running.settings.satisfies(settings) { return false }
                try mps.configure(gpu: uuid, settings)
                return true
            }
            try mps.start(gpu: uuid)
            do {
                try mps.configure(gpu: uuid, settings)
                return try verify(uuid, settings, mps)
            } catch {
                // Not recorded as forbc's, a daemon left running would outlive destroy and a campaign's restore.
                try? mps.quit(gpu: uuid)
                throw error
            }
        case .mpsSettings(let uuid, let wanted):
            guard let running = try mps.daemon(gpu: uuid) else {
                throw ForbcError(
                    .changedWorld,
                    "the MPS daemon of \(uuid) is gone since planning; run 'forbc plan' again (apply starts it)")
            }
            if running.settings.satisfies(wanted) { return false }
            try mps.configure(gpu: uuid, wanted)
            return try verify(uuid, wanted, mps)
        case .mpsPresent(let uuid):
            guard try mps.daemon(gpu: uuid) != nil else { return false }
            try mps.quit(gpu: uuid)
            if try mps.daemon(gpu: uuid) != nil {
                throw ForbcError(.system, "the MPS daemon of \(uuid) still answers after 'quit'")
            }
            return true
        default:
            return false
        }
    }

    /// Reads the defaults back: a daemon that does not report what was set is an error, not a success.
    func verify(_ uuid: String, _ settings: MPSSettings, _ mps: any MPSChannel) throws -> Bool {
        guard let running = try mps.daemon(gpu: uuid) else {
            throw ForbcError(.system, "the MPS daemon of \(uuid) does not answer after it was started")
        }
        guard running.settings.satisfies(settings) else {
            throw ForbcError(
                .system, "the MPS daemon of \(uuid) reports \(running.settings) after forbc set \(settings)")
        }
        return true
    }
}
