/// What a session needs of a simulated host (the `ForbcSimulator` target provides one): the sysfs it answers,
/// its NVML, and how it keeps its state between commands. The core never builds a simulation itself.
public protocol HostSimulation: AnyObject, Sendable {
    /// The simulated kernel's sysfs.
    var sysfs: any SysfsChannel { get }
    /// The profile name (`nvidia-t4`).
    var profile: String { get }
    /// Where the profile's numbers come from, for the banner.
    var provenance: String { get }
    /// The simulated NVML, or why there is none.
    func nvml() -> Result<any NVMLChannel, ForbcError>
    /// The simulated MPS daemons of this host, their pipe directories under `store`.
    func mps(in store: StateStore) -> any MPSChannel
    /// Saves the simulated host, and the test driver's domains when `hypervisor` changed them, into `store`.
    func persist(into store: StateStore, hypervisor: (any HypervisorChannel)?) throws
    /// Re-reads the simulated host from `store` (under the host lock: another command may have changed it).
    func reload(from store: StateStore) throws
}
