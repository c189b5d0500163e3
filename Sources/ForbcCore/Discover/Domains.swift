/// Which definitions of a domain a change touches.
public struct AttachScope: Sendable, Equatable, Codable, CustomStringConvertible {
    public var live: Bool
    public var config: Bool

    public init(live: Bool, config: Bool) {
        self.live = live
        self.config = config
    }

    public var description: String {
        switch (live, config) {
        case (true, true): "live and persistent definitions"
        case (true, false): "live definition"
        case (false, true): "persistent definition"
        case (false, false): "no definition"
        }
    }
}

/// What libvirt says of a domain.
public struct DomainDefinition: Sendable, Equatable {
    public enum State: String, Sendable, Codable {
        case running, paused, shutoff, other
    }

    public var name: String
    public var uuid: String
    public var state: State
    public var persistent: Bool
    /// The live definition's XML (for a shut-off domain, the same as the persistent one).
    public var liveXML: String
    /// The persistent definition's XML (VIR_DOMAIN_XML_INACTIVE).
    public var persistentXML: String

    public init(name: String, uuid: String, state: State, persistent: Bool, liveXML: String, persistentXML: String) {
        self.name = name
        self.uuid = uuid
        self.state = state
        self.persistent = persistent
        self.liveXML = liveXML
        self.persistentXML = persistentXML
    }

    public var isActive: Bool { state == .running || state == .paused }

    /// The summary discovery keeps.
    public func summary() throws -> Domain {
        let inUse = isActive ? liveXML : persistentXML
        return Domain(
            name: name, uuid: uuid, state: state,
            liveHostdevs: isActive ? try DomainXML.hostdevs(in: liveXML, domain: name) : [],
            configHostdevs: try DomainXML.hostdevs(in: persistentXML, domain: name),
            vcpus: DomainXML.vcpus(in: inUse), memoryKiB: DomainXML.memoryKiB(in: inUse))
    }
}

/// A domain as the inventory shows it.
public struct Domain: Sendable, Codable, Equatable {
    public var name: String
    public var uuid: String
    public var state: DomainDefinition.State
    /// Hostdevs of the running domain (empty when it is not running).
    public var liveHostdevs: [Hostdev]
    /// Hostdevs of the persistent definition.
    public var configHostdevs: [Hostdev]
    /// vCPUs and memory (KiB) of the definition in use, for benchmark provenance.
    public var vcpus: Int?
    public var memoryKiB: Int?

    public var isActive: Bool { state == .running || state == .paused }
}

/// A host device in a domain: an mdev by UUID, or a PCI function by address.
public struct Hostdev: Sendable, Codable, Equatable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Codable { case mdev, pci }

    public var kind: Kind
    /// The mdev UUID or the PCI address ("0000:3b:00.4").
    public var id: String
    /// `managed='yes'`: libvirt binds the function to vfio-pci itself (not for NVIDIA VFs, which stay on nvidia).
    public var managed: Bool

    public static func mdev(_ uuid: String) -> Hostdev { Hostdev(kind: .mdev, id: uuid.lowercased(), managed: false) }
    public static func pci(_ address: String, managed: Bool) -> Hostdev {
        Hostdev(kind: .pci, id: address.lowercased(), managed: managed)
    }

    public var description: String { kind == .mdev ? "mdev \(id)" : "PCI \(id)" }

    /// Two hostdevs name the same device whatever their `managed` attribute.
    public func sameDevice(_ other: Hostdev) -> Bool { kind == other.kind && id == other.id }

    /// The `<hostdev>` element libvirt takes.
    public var xml: String {
        switch kind {
        case .mdev:
            return
                "<hostdev mode='subsystem' type='mdev' model='vfio-pci' managed='no'><source><address "
                + "uuid='\(id)'/></source></hostdev>"
        case .pci:
            let parts = id.split(whereSeparator: { $0 == ":" || $0 == "." })
            return
                "<hostdev mode='subsystem' type='pci' managed='\(managed ? "yes" : "no")'><source><address "
                + "domain='0x\(parts[0])' bus='0x\(parts[1])' slot='0x\(parts[2])' "
                + "function='0x\(parts[3])'/></source></hostdev>"
        }
    }
}
