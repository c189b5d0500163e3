/// Apply's re-reads for the vendor drivers' own attributes (AMD partition modes, Intel VF provisioning) and for
/// driver bindings (the reload that completes an AMD memory partition change).
extension Applier {
    /// For an attribute holding one word: false when it already reads `value`; true when it reads `current` (or
    /// `current` is nil); otherwise the host changed since planning.
    func expectWord(_ path: String, reads current: String?, before value: String) throws -> Bool {
        let now = try sysfs.read(path).trimmingCharacters(in: .whitespacesAndNewlines)
        if now == value { return false }
        if let current, now != current {
            throw ForbcError(
                .changedWorld, "\(path) reads '\(now)', the plan expected '\(current)'; run 'forbc plan' again",
                path: path)
        }
        return true
    }

    /// For a bind or an unbind: false when `device` is already bound to `to` (nil: to no driver); true when it is
    /// still bound to `from`; otherwise the host changed since planning.
    func expectDriver(_ device: String, from: String?, to: String?) throws -> Bool {
        let link = SysPath.pci(device, "driver")
        let now = try sysfs.linkName(link)
        if now == to { return false }
        if now != from {
            throw ForbcError(
                .changedWorld,
                "\(device) is bound to \(now.map { "'\($0)'" } ?? "no driver"), the plan expected "
                    + "\(from.map { "'\($0)'" } ?? "no driver"); run 'forbc plan' again",
                path: link)
        }
        return true
    }

    /// A relabel writes nothing: the device must still be as the plan read it (the mode, the VF count), else the
    /// host changed since planning.
    func confirmKept(_ action: PlannedAction) throws -> Bool {
        switch action.precondition {
        case .attribute(let path, let current):
            _ = try expectWord(path, reads: current, before: current ?? "")
        case .numVFs(let pf, let current):
            _ = try expect(SysPath.pci(pf, "sriov_numvfs"), reads: current, before: "\(current)")
        default:
            break
        }
        return true
    }
}
