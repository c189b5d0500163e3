import CLibvirt
import ForbcCore
import Foundation

/// One libvirt connection through the C API: checks every return code, turns `virGetLastError()` into
/// forbc's errors (the call, the domain, libvirt's own message), frees what libvirt returns, and counts the
/// calls that change a domain.
public final class LibvirtConnection: HypervisorChannel, @unchecked Sendable {
    public let uri: String
    let connection: virConnectPtr
    private let lock = NSLock()
    private var mutationCount = 0

    /// libvirt prints every error to stderr unless a handler is set; forbc reports each error once, itself.
    private static let silence: Void = {
        virSetErrorFunc(nil, { _, _ in })
    }()

    public init(uri: String) throws {
        _ = Self.silence
        self.uri = uri
        guard let connection = virConnectOpen(uri) else {
            throw Self.error(
                "connecting to '\(uri)'",
                remedy: uri.hasPrefix("qemu:///system")
                    ? "is libvirtd running? (start it, or pass '--libvirt URI')" : nil)
        }
        self.connection = connection
    }

    deinit { virConnectClose(connection) }

    public var mutations: Int { lock.withLock { mutationCount } }

    private func counted() { lock.withLock { mutationCount += 1 } }

    /// libvirt's last error as forbc's: "libvirt: CALL failed: MESSAGE".
    static func error(_ call: String, remedy: String? = nil) -> ForbcError {
        let last = virGetLastError()
        let message = last.flatMap { $0.pointee.message.map { String(cString: $0) } } ?? "unknown libvirt error"
        let code = last.map { Int($0.pointee.code) } ?? 0
        // VIR_ERR_NO_SUPPORT, VIR_ERR_OPERATION_UNSUPPORTED: the driver cannot do this at all.
        let unsupported =
            code == Int(VIR_ERR_NO_SUPPORT.rawValue) || code == Int(VIR_ERR_OPERATION_UNSUPPORTED.rawValue)
        var text = "libvirt: \(call) failed: \(message)"
        if let remedy { text += "; \(remedy)" }
        return ForbcError(unsupported ? .unsupported : .hypervisor, text)
    }

    public func domains() throws -> [DomainDefinition] {
        var list: UnsafeMutablePointer<virDomainPtr?>?
        let count = virConnectListAllDomains(connection, &list, 0)
        guard count >= 0, let list else { throw Self.error("virConnectListAllDomains on '\(uri)'") }
        defer {
            for i in 0..<Int(count) { if let domain = list[i] { virDomainFree(domain) } }
            free(list)
        }
        return try (0..<Int(count)).compactMap { list[$0] }.map(describe).sorted { $0.name < $1.name }
    }

    public func domain(named name: String) throws -> DomainDefinition {
        guard let domain = virDomainLookupByName(connection, name) else {
            throw Self.error("virDomainLookupByName('\(name)')")
        }
        defer { virDomainFree(domain) }
        return try describe(domain)
    }

    func describe(_ domain: virDomainPtr) throws -> DomainDefinition {
        let name = virDomainGetName(domain).map { String(cString: $0) } ?? "?"
        var uuid = [CChar](repeating: 0, count: Int(VIR_UUID_STRING_BUFLEN))
        guard virDomainGetUUIDString(domain, &uuid) == 0 else { throw Self.error("virDomainGetUUIDString('\(name)')") }
        var state: Int32 = 0
        var reason: Int32 = 0
        guard virDomainGetState(domain, &state, &reason, 0) == 0 else {
            throw Self.error("virDomainGetState('\(name)')")
        }
        let persistent = virDomainIsPersistent(domain)
        guard persistent >= 0 else { throw Self.error("virDomainIsPersistent('\(name)')") }
        return DomainDefinition(
            name: name, uuid: String(cString: uuid), state: Self.state(state), persistent: persistent == 1,
            liveXML: try xml(domain, name: name, flags: 0),
            persistentXML: persistent == 1
                ? try xml(domain, name: name, flags: VIR_DOMAIN_XML_INACTIVE.rawValue)
                : try xml(domain, name: name, flags: 0))
    }

    func xml(_ domain: virDomainPtr, name: String, flags: UInt32) throws -> String {
        guard let text = virDomainGetXMLDesc(domain, flags) else { throw Self.error("virDomainGetXMLDesc('\(name)')") }
        defer { free(text) }
        return String(cString: text)
    }

    static func state(_ raw: Int32) -> DomainDefinition.State {
        switch UInt32(raw) {
        case VIR_DOMAIN_RUNNING.rawValue, VIR_DOMAIN_BLOCKED.rawValue: .running
        case VIR_DOMAIN_PAUSED.rawValue, VIR_DOMAIN_PMSUSPENDED.rawValue: .paused
        case VIR_DOMAIN_SHUTOFF.rawValue, VIR_DOMAIN_CRASHED.rawValue, VIR_DOMAIN_SHUTDOWN.rawValue: .shutoff
        default: .other
        }
    }

    static func flags(_ scope: AttachScope) -> UInt32 {
        (scope.live ? VIR_DOMAIN_AFFECT_LIVE.rawValue : 0) | (scope.config ? VIR_DOMAIN_AFFECT_CONFIG.rawValue : 0)
    }

    public func attach(_ deviceXML: String, to name: String, scope: AttachScope) throws {
        guard let domain = virDomainLookupByName(connection, name) else {
            throw Self.error("virDomainLookupByName('\(name)')")
        }
        defer { virDomainFree(domain) }
        counted()
        guard virDomainAttachDeviceFlags(domain, deviceXML, Self.flags(scope)) == 0 else {
            throw Self.error("virDomainAttachDeviceFlags('\(name)', \(scope))")
        }
    }

    public func detach(_ deviceXML: String, from name: String, scope: AttachScope) throws {
        guard let domain = virDomainLookupByName(connection, name) else {
            throw Self.error("virDomainLookupByName('\(name)')")
        }
        defer { virDomainFree(domain) }
        counted()
        guard virDomainDetachDeviceFlags(domain, deviceXML, Self.flags(scope)) == 0 else {
            throw Self.error("virDomainDetachDeviceFlags('\(name)', \(scope))")
        }
    }

    /// virDomainUndefine (tests and the lab clean up the domains they defined).
    public func undefine(_ name: String) throws {
        guard let domain = virDomainLookupByName(connection, name) else {
            throw Self.error("virDomainLookupByName('\(name)')")
        }
        defer { virDomainFree(domain) }
        counted()
        guard virDomainUndefine(domain) == 0 else { throw Self.error("virDomainUndefine('\(name)')") }
    }

    public func define(_ domainXML: String) throws {
        counted()
        guard let domain = virDomainDefineXML(connection, domainXML) else { throw Self.error("virDomainDefineXML") }
        virDomainFree(domain)
    }
}
