/// Marketing names for the GPUs forbc is calibrated on, by vendor and device id (from the PCI ID
/// repository and the vendors' documentation). Unknown devices show as "VENDOR device 0xID".
enum PCIDeviceNames {
    static let names: [String: String] = [
        "10de:1eb8": "NVIDIA Tesla T4",
        "10de:2235": "NVIDIA A40",
        "10de:26b9": "NVIDIA L40S",
        "10de:20b0": "NVIDIA A100-SXM4-40GB",
        "10de:20b2": "NVIDIA A100-SXM4-80GB",
        "10de:20b5": "NVIDIA A100 80GB PCIe",
        "10de:20f1": "NVIDIA A100-PCIE-40GB",
        "10de:2330": "NVIDIA H100 80GB HBM3",
        "10de:2331": "NVIDIA H100 PCIe",
        "10de:2335": "NVIDIA H200",
        "1002:740f": "AMD Instinct MI210",
        "1002:740c": "AMD Instinct MI250X",
        "1002:74a1": "AMD Instinct MI300X",
        "8086:56c0": "Intel Data Center GPU Flex 170",
        "8086:3e92": "Intel UHD Graphics 630",
        "8086:3e98": "Intel UHD Graphics 630",
        "8086:5912": "Intel HD Graphics 630",
        "1b36:0010": "QEMU NVM Express Controller",
    ]

    static func model(vendorID: String, deviceID: String, vendor: Vendor) -> String {
        let key =
            "\(vendorID.replacingOccurrences(of: "0x", with: "")):\(deviceID.replacingOccurrences(of: "0x", with: ""))"
        if vendor == .other { return names[key] ?? "PCI device \(key)" }
        return names[key] ?? "\(vendor.rawValue.uppercased()) device \(deviceID)"
    }
}
