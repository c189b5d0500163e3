import ForbcCore
import Foundation
import Testing

@testable import ForbcLibvirt

/// qemu:///system where no daemon listens: the answer forbc gives without loading libvirt is libvirt's own.
@Suite("qemu:///system with no daemon")
struct NoDaemonTests {
    static let known = LibvirtNoDaemon.message(for: "qemu:///system") != nil

    @Test(
        "the error given without loading libvirt is the one libvirt gives",
        .enabled(
            if: known, "needs no libvirt daemon socket in /var/run/libvirt, libvirt0 installed, an empty libvirt.conf"))
    func sameAsLibvirt() throws {
        func failure(_ loading: Bool) -> ForbcError? {
            #expect(throws: ForbcError.self) { try LibvirtConnection(uri: "qemu:///system", loadingLibvirt: loading) }
        }
        let known = try #require(failure(false))
        let asked = try #require(failure(true))
        #expect(known.message == asked.message)
        #expect(known.code == asked.code)
        #expect(known.message.hasSuffix("; is libvirtd running? (start it, or pass '--libvirt URI')"))
    }

    @Test("other URIs are left to libvirt")
    func otherURIs() {
        for uri in ["qemu:///system?mode=direct", "qemu:///session", "test:///default", "qemu+ssh://h/system"] {
            #expect(LibvirtNoDaemon.message(for: uri) == nil, "\(uri)")
        }
    }

    @Test("a client configuration with any setting leaves the answer to libvirt")
    func configurations() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("forbc-nodaemon-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let cases = [
            ("# uri_default = \"qemu:///system\"\n\n  # remote_mode = \"legacy\"\n", true),
            ("remote_mode = \"direct\"\n", false), ("  uri_aliases = [\"a=qemu:///system\"]\n", false),
        ]
        for (index, (text, empty)) in cases.enumerated() {
            let file = directory.appendingPathComponent("\(index).conf")
            try Data(text.utf8).write(to: file)
            #expect(LibvirtNoDaemon.hasNoSettings(file.path) == empty, "\(text)")
        }
        #expect(LibvirtNoDaemon.hasNoSettings(directory.appendingPathComponent("absent.conf").path))
    }
}

@Suite("a domain undefined between the list and the questions about it")
struct VanishedDomainTests {
    @Test("it is left out of the list (VIR_ERR_NO_DOMAIN), as a list taken a moment later would leave it out")
    func undefinedAfterListing() throws {
        let connection = try LibvirtConnection(uri: "test:///default")
        let xml = """
            <domain type='test'><name>forbc-vanishing</name><memory>1024</memory>
            <os><type>hvm</type></os></domain>
            """
        let defined = try #require(connection.api.virDomainDefineXML(connection.connection, xml))
        defer { _ = connection.api.virDomainFree(defined) }
        let listed = try #require(connection.api.virDomainLookupByName(connection.connection, "forbc-vanishing"))
        defer { _ = connection.api.virDomainFree(listed) }
        #expect(try connection.describeIfStillDefined(listed)?.name == "forbc-vanishing")
        #expect(connection.api.virDomainUndefine(listed) == 0)
        #expect(try connection.describeIfStillDefined(listed) == nil)
        #expect(throws: ForbcError.self) { try connection.describe(listed) }
        #expect(try !connection.domains().contains { $0.name == "forbc-vanishing" })
    }
}
