/// The seam between forbc and the hypervisor. The real side is libvirt's C API (the ForbcLibvirt target);
/// simulated hosts use the same C API against libvirt's test driver. Only domains and their hostdevs
/// come from here: partitions are discovered from sysfs.
public protocol HypervisorChannel: AnyObject, Sendable {
    /// The connection URI, for messages.
    var uri: String { get }
    /// Every domain, with both its live and its persistent definition.
    func domains() throws -> [DomainDefinition]
    /// One domain by name (re-read before each step of apply).
    func domain(named name: String) throws -> DomainDefinition
    /// virDomainAttachDeviceFlags; throws `.unsupported` when the driver cannot.
    func attach(_ deviceXML: String, to domain: String, scope: AttachScope) throws
    /// virDomainDetachDeviceFlags; throws `.unsupported` when the driver cannot.
    func detach(_ deviceXML: String, from domain: String, scope: AttachScope) throws
    /// virDomainDefineXML.
    func define(_ domainXML: String) throws
    /// How many define, attach and detach calls this connection has made.
    var mutations: Int { get }
}
