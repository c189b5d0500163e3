import ForbcCore
import Foundation

/// The hypervisor of a simulated host: libvirt's test driver, loaded from a node XML in the state dir.
/// The test driver keeps its state in memory per connection, so forbc writes the domains back to that file
/// after each change; the next command starts from it.
public enum SimulatedDomains {
    static let namespace = "http://libvirt.org/schemas/domain/test/1.0"

    /// The domains every simulated host starts with: one running, two shut off.
    public static let initial: [(name: String, running: Bool)] = [
        ("worker-1", true), ("worker-2", false), ("worker-3", false),
    ]

    /// A node XML for the test driver holding the initial domains of `profile`.
    public static func initialNodeXML(profile: String) -> String {
        let domains = initial.map { domain in
            """
              <domain type='test' xmlns:test='\(namespace)'>
                <name>\(domain.name)</name>
                <uuid>\(UUIDv5.partition(host: "simulated-\(profile)", name: domain.name))</uuid>
                <memory unit='KiB'>4194304</memory>
                <vcpu>4</vcpu>
                <os><type arch='x86_64'>hvm</type></os>
                <devices></devices>
                <test:runstate>\(domain.running ? 1 : 5)</test:runstate>
              </domain>
            """
        }
        return "<node>\n" + domains.joined(separator: "\n") + "\n</node>\n"
    }

    /// The node XML that reproduces `domains` (persistent definitions and run states) on the next load.
    public static func nodeXML(from domains: [DomainDefinition]) -> String {
        var parts = ["<node>"]
        for domain in domains {
            var xml = domain.persistentXML
            if let open = xml.range(of: "<domain ") {
                xml.replaceSubrange(open, with: "<domain xmlns:test='\(namespace)' ")
            }
            let runstate =
                switch domain.state {
                case .running: 1
                case .paused: 3
                case .shutoff, .other: 5
                }
            if let close = xml.range(of: "</domain>", options: .backwards) {
                xml.replaceSubrange(close, with: "  <test:runstate>\(runstate)</test:runstate>\n</domain>")
            }
            parts.append(xml)
        }
        parts.append("</node>\n")
        return parts.joined(separator: "\n")
    }
}
