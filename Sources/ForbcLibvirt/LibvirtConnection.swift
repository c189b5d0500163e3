import CLibvirt
import ForbcCore
import Foundation

/// One libvirt connection through the C API: checks every return code, turns `virGetLastError()` into
/// forbc's errors (the call, the domain, libvirt's own message), frees what libvirt returns, and counts the
/// calls that change a domain. libvirt is loaded by the first connection (`Libvirt`), never at launch.
public final class LibvirtConnection: HypervisorChannel, @unchecked Sendable {
    public let uri: String
    let connection: virConnectPtr
    /// libvirt's functions, bound when libvirt was loaded.
    let api: forbc_libvirt
    private let lock = NSLock()
    private var mutationCount = 0
    /// Which domains' guest agents have not answered (`LibvirtConnection+Agent.swift`).
    let agentHealth = AgentHealth()

    /// Connects to `uri`. Where no daemon listens for qemu:///system, the error is libvirt's own without loading
    /// libvirt (`LibvirtNoDaemon`), unless `loadingLibvirt` asks libvirt itself.
    public init(uri: String, loadingLibvirt: Bool = false) throws {
        if !loadingLibvirt, let message = LibvirtNoDaemon.message(for: uri) {
            throw Self.connectionError(uri, message: message, unsupported: false)
        }
        api = try Libvirt.api()
        self.uri = uri
        guard let connection = api.virConnectOpen(uri) else {
            let last = api.virGetLastError()
            let message = last.flatMap { $0.pointee.message.map { String(cString: $0) } } ?? "unknown libvirt error"
            throw Self.connectionError(uri, message: message, unsupported: Self.unsupported(last))
        }
        self.connection = connection
    }

    /// The error for a connection to `uri` that libvirt refused with `message`.
    static func connectionError(_ uri: String, message: String, unsupported: Bool) -> ForbcError {
        var text = "libvirt: connecting to '\(uri)' failed: \(message)"
        if uri.hasPrefix("qemu:///system") { text += "; is libvirtd running? (start it, or pass '--libvirt URI')" }
        return ForbcError(unsupported ? .unsupported : .hypervisor, text)
    }

    /// Whether libvirt's error says the driver cannot do this at all (VIR_ERR_NO_SUPPORT,
    /// VIR_ERR_OPERATION_UNSUPPORTED).
    static func unsupported(_ last: virErrorPtr?) -> Bool {
        let code = last.map { Int($0.pointee.code) } ?? 0
        return code == Int(VIR_ERR_NO_SUPPORT.rawValue) || code == Int(VIR_ERR_OPERATION_UNSUPPORTED.rawValue)
    }

    deinit { _ = api.virConnectClose(connection) }

    public var mutations: Int { lock.withLock { mutationCount } }

    private func counted() { lock.withLock { mutationCount += 1 } }

    /// libvirt's last error as forbc's: "libvirt: CALL failed: MESSAGE".
    static func error(_ call: String) -> ForbcError {
        let last = (try? Libvirt.api())?.virGetLastError()
        let message = last.flatMap { $0.pointee.message.map { String(cString: $0) } } ?? "unknown libvirt error"
        return ForbcError(unsupported(last) ? .unsupported : .hypervisor, "libvirt: \(call) failed: \(message)")
    }

    public func domains() throws -> [DomainDefinition] {
        var list: UnsafeMutablePointer<virDomainPtr?>?
        let count = api.virConnectListAllDomains(connection, &list, 0)
        guard count >= 0, let list else { throw Self.error("virConnectListAllDomains on '\(uri)'") }
        defer {
            for i in 0..<Int(count) { if let domain = list[i] { _ = api.virDomainFree(domain) } }
            free(list)
        }
        return try (0..<Int(count)).compactMap { list[$0] }.compactMap(describeIfStillDefined).sorted {
            $0.name < $1.name
        }
    }

    /// `describe`, or nil for a domain undefined since it was listed (another program's `virsh undefine` between
    /// the list and the questions about it: VIR_ERR_NO_DOMAIN); it is not there any more, as a list taken a
    /// moment later would say. Any other failure is an error.
    func describeIfStillDefined(_ domain: virDomainPtr) throws -> DomainDefinition? {
        do {
            return try describe(domain)
        } catch {
            let code = api.virGetLastError().map { Int($0.pointee.code) } ?? 0
            if code == Int(VIR_ERR_NO_DOMAIN.rawValue) { return nil }
            throw error
        }
    }

    public func domain(named name: String) throws -> DomainDefinition {
        guard let domain = api.virDomainLookupByName(connection, name) else {
            throw Self.error("virDomainLookupByName('\(name)')")
        }
        defer { _ = api.virDomainFree(domain) }
        return try describe(domain)
    }

    func describe(_ domain: virDomainPtr) throws -> DomainDefinition {
        let name = api.virDomainGetName(domain).map { String(cString: $0) } ?? "?"
        var uuid = [CChar](repeating: 0, count: Int(VIR_UUID_STRING_BUFLEN))
        guard api.virDomainGetUUIDString(domain, &uuid) == 0 else {
            throw Self.error("virDomainGetUUIDString('\(name)')")
        }
        var state: Int32 = 0
        var reason: Int32 = 0
        guard api.virDomainGetState(domain, &state, &reason, 0) == 0 else {
            throw Self.error("virDomainGetState('\(name)')")
        }
        let persistent = api.virDomainIsPersistent(domain)
        guard persistent >= 0 else { throw Self.error("virDomainIsPersistent('\(name)')") }
        return DomainDefinition(
            name: name, uuid: String(cString: uuid), state: Self.state(state), persistent: persistent == 1,
            liveXML: try xml(domain, name: name, flags: 0),
            persistentXML: persistent == 1
                ? try xml(domain, name: name, flags: VIR_DOMAIN_XML_INACTIVE.rawValue)
                : try xml(domain, name: name, flags: 0))
    }

    func xml(_ domain: virDomainPtr, name: String, flags: UInt32) throws -> String {
        guard let text = api.virDomainGetXMLDesc(domain, flags) else {
            throw Self.error("virDomainGetXMLDesc('\(name)')")
        }
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
        guard let domain = api.virDomainLookupByName(connection, name) else {
            throw Self.error("virDomainLookupByName('\(name)')")
        }
        defer { _ = api.virDomainFree(domain) }
        counted()
        guard api.virDomainAttachDeviceFlags(domain, deviceXML, Self.flags(scope)) == 0 else {
            throw Self.error("virDomainAttachDeviceFlags('\(name)', \(scope))")
        }
    }

    public func detach(_ deviceXML: String, from name: String, scope: AttachScope) throws {
        guard let domain = api.virDomainLookupByName(connection, name) else {
            throw Self.error("virDomainLookupByName('\(name)')")
        }
        defer { _ = api.virDomainFree(domain) }
        counted()
        guard api.virDomainDetachDeviceFlags(domain, deviceXML, Self.flags(scope)) == 0 else {
            throw Self.error("virDomainDetachDeviceFlags('\(name)', \(scope))")
        }
    }

    /// virDomainUndefine (tests and the lab clean up the domains they defined).
    public func undefine(_ name: String) throws {
        guard let domain = api.virDomainLookupByName(connection, name) else {
            throw Self.error("virDomainLookupByName('\(name)')")
        }
        defer { _ = api.virDomainFree(domain) }
        counted()
        guard api.virDomainUndefine(domain) == 0 else { throw Self.error("virDomainUndefine('\(name)')") }
    }

    public func define(_ domainXML: String) throws {
        counted()
        guard let domain = api.virDomainDefineXML(connection, domainXML) else { throw Self.error("virDomainDefineXML") }
        _ = api.virDomainFree(domain)
    }
}

/// libvirt and libvirt-qemu, dlopen'ed when a hypervisor is first consulted (so that a command that never connects
/// does not load libvirt's long chain of libraries), with every function forbc calls bound into a typed table.
enum Libvirt {
    /// The libraries Debian's libvirt0 installs (the runtime package; libvirt-dev's unversioned links are not needed).
    static let libraries = (virt: "libvirt.so.0", qemu: "libvirt-qemu.so.0")

    private static let loaded: Result<forbc_libvirt, ForbcError> = load()

    /// The bound functions; the first call loads libvirt, and a failure to load is the same error every time.
    static func api() throws -> forbc_libvirt { try loaded.get() }

    private static func load() -> Result<forbc_libvirt, ForbcError> {
        func open(_ name: String) -> Result<UnsafeMutableRawPointer, ForbcError> {
            if let handle = dlopen(name, RTLD_NOW | RTLD_LOCAL) { return .success(handle) }
            let reason = dlerror().map { String(cString: $0) } ?? "unknown reason"
            return .failure(
                ForbcError(
                    .hypervisor,
                    "libvirt is not available: dlopen('\(name)') failed: \(reason); install libvirt (Debian package "
                        + "'libvirt0')"))
        }
        return open(libraries.virt).flatMap { virt in
            open(libraries.qemu).flatMap { qemu in
                let table = UnsafeMutablePointer<forbc_libvirt>.allocate(capacity: 1)
                defer { table.deallocate() }
                if let missing = forbc_libvirt_bind(virt, qemu, table) {
                    return .failure(
                        ForbcError(
                            .hypervisor,
                            "libvirt is not usable: it has no '\(String(cString: missing))' (libvirt 5.x or newer is "
                                + "needed)"))
                }
                // libvirt prints every error to stderr unless a handler is set; forbc reports each error once, itself.
                table.pointee.virSetErrorFunc(nil, { _, _ in })
                return .success(table.pointee)
            }
        }
    }
}
