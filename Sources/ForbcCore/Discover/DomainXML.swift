import Foundation

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// Reading and editing libvirt domain XML: the hostdevs a definition holds, and a definition with one
/// hostdev added or removed (for drivers that cannot attach, forbc redefines the domain).
public enum DomainXML {
    /// The mdev and PCI hostdevs of a domain definition; XML that does not parse is an error naming the
    /// domain (treating it as "no hostdevs" would make forbc attach again, or miss what it attached).
    public static func hostdevs(in xml: String, domain: String) throws -> [Hostdev] {
        let document: XMLDocument
        do {
            document = try XMLDocument(xmlString: xml, options: [])
        } catch {
            throw ForbcError(
                .hypervisor, "the XML libvirt returned for domain '\(domain)' does not parse: \(error)", cause: error)
        }
        // libxml2 recovers some broken text into a document without a root, on which XPath crashes: check first.
        guard let root = document.rootElement(), root.name == "domain" else {
            throw ForbcError(.hypervisor, "the XML libvirt returned for domain '\(domain)' has no <domain> element")
        }
        let nodes = root.elements(forName: "devices").flatMap { $0.elements(forName: "hostdev") }
        return nodes.compactMap { ($0 as? XMLElement).flatMap(hostdev) }
    }

    /// `<vcpu>` of a definition, when it parses.
    public static func vcpus(in xml: String) -> Int? {
        element("vcpu", in: xml).flatMap { Int($0.stringValue?.trimmingCharacters(in: .whitespaces) ?? "") }
    }

    /// `<memory>` of a definition in KiB (libvirt's default unit; `unit` KiB, MiB or GiB converted).
    public static func memoryKiB(in xml: String) -> Int? {
        guard let memory = element("memory", in: xml),
            let value = Int(memory.stringValue?.trimmingCharacters(in: .whitespaces) ?? "")
        else { return nil }
        switch memory.attribute(forName: "unit")?.stringValue ?? "KiB" {
        case "KiB", "k", "K": return value
        case "MiB", "M": return value * 1024
        case "GiB", "G": return value * 1024 * 1024
        case "b", "bytes": return value / 1024
        default: return nil
        }
    }

    /// A direct child of `<domain>`.
    static func element(_ name: String, in xml: String) -> XMLElement? {
        guard let root = (try? XMLDocument(xmlString: xml, options: []))?.rootElement(), root.name == "domain"
        else { return nil }
        return root.elements(forName: name).first
    }

    static func hostdev(_ element: XMLElement) -> Hostdev? {
        guard element.attribute(forName: "mode")?.stringValue ?? "subsystem" == "subsystem",
            let type = element.attribute(forName: "type")?.stringValue,
            let address = (try? element.nodes(forXPath: "source/address"))?.first as? XMLElement
        else { return nil }
        switch type {
        case "mdev":
            return address.attribute(forName: "uuid")?.stringValue.map { Hostdev.mdev($0) }
        case "pci":
            func field(_ name: String, _ width: Int) -> String? {
                guard let text = address.attribute(forName: name)?.stringValue else {
                    return name == "domain" ? "0000" : nil
                }
                let digits = text.hasPrefix("0x") ? String(text.dropFirst(2)) : text
                guard let value = Int(digits, radix: 16) else { return nil }
                let hex = String(value, radix: 16)
                return String(repeating: "0", count: max(0, width - hex.count)) + hex
            }
            guard let domain = field("domain", 4), let bus = field("bus", 2), let slot = field("slot", 2),
                let function = address.attribute(forName: "function")?.stringValue.flatMap({
                    Int($0.replacingOccurrences(of: "0x", with: ""), radix: 16)
                })
            else { return nil }
            let managed = element.attribute(forName: "managed")?.stringValue == "yes"
            return Hostdev.pci("\(domain):\(bus):\(slot).\(function)", managed: managed)
        default:
            return nil
        }
    }

    /// The definition with `hostdev` appended to its devices.
    public static func adding(_ hostdev: Hostdev, to xml: String) throws -> String {
        let document = try parse(xml)
        guard let devices = try document.nodes(forXPath: "/domain/devices").first as? XMLElement else {
            throw ForbcError(.system, "the domain definition has no <devices> element")
        }
        devices.addChild(try XMLElement(xmlString: hostdev.xml))
        return document.xmlString(options: [.nodePrettyPrint])
    }

    /// The definition without any hostdev naming the same device.
    public static func removing(_ hostdev: Hostdev, from xml: String) throws -> String {
        let document = try parse(xml)
        for node in try document.nodes(forXPath: "/domain/devices/hostdev") {
            if let element = node as? XMLElement, let found = Self.hostdev(element), found.sameDevice(hostdev) {
                element.detach()
            }
        }
        return document.xmlString(options: [.nodePrettyPrint])
    }

    static func parse(_ xml: String) throws -> XMLDocument {
        do {
            return try XMLDocument(xmlString: xml, options: [])
        } catch {
            throw ForbcError(.system, "cannot parse the domain XML libvirt returned: \(error)", cause: error)
        }
    }
}
