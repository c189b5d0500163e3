// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "forbc",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "forbc", targets: ["forbc"]),
        .library(name: "ForbcCore", targets: ["ForbcCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
    ],
    targets: [
        // manifest → discover → plan → apply over the OS seams (Ports/); no ArgumentParser, no simulator; C only
        // in System/ (NVMLLibrary imports CNVML, NVML's types; the library itself is dlopen'ed; CLinux: openat2).
        .target(
            name: "ForbcCore",
            dependencies: ["CNVML", "CLinux", "ForbcYAMLScan", .product(name: "Yams", package: "Yams")]),
        // The part of NVIDIA's NVML API forbc uses (types and entry-point pointer types); nothing links it.
        .systemLibrary(name: "CNVML"),
        // openat2(2), which Glibc does not wrap, for sysfs reads under '--root' (System/ConfinedWalk+Beneath).
        .systemLibrary(name: "CLinux"),
        // A first pass over libyaml's events (Yams' CYaml), before Yams composes a manifest: C stays at the edge.
        .target(name: "ForbcYAMLScan", dependencies: [.product(name: "Yams", package: "Yams")]),
        // The simulated side of the seams: a kernel with the kernel's semantics, NVML, libvirt's test driver.
        .target(name: "ForbcSimulator", dependencies: ["ForbcCore"]),
        // The statistics of the benchmark half: hierarchical bootstrap, stability warnings, coverage simulation.
        .target(name: "ForbcStats"),
        // The benchmark half: workloads, runner, the SQLite results store (re-exports ForbcStats).
        .target(
            name: "ForbcBench",
            dependencies: [
                "ForbcCore",
                "ForbcStats",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Yams", package: "Yams"),
            ]),
        // libvirt's C API (Debian's libvirt-dev headers), and the one Swift type that owns a connection. Nothing
        // links libvirt: it is dlopen'ed when a hypervisor is first consulted (Sources/CLibvirt/shim.h binds it).
        .systemLibrary(name: "CLibvirt"),
        .target(name: "ForbcLibvirt", dependencies: ["ForbcCore", "CLibvirt"]),
        // The commands: option parsing and rendering for people.
        .target(
            name: "ForbcCommands",
            dependencies: [
                "ForbcCore",
                "ForbcSimulator",
                "ForbcBench",
                "ForbcLibvirt",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        // Linked by lld with packed relative relocations (DT_RELR, glibc 2.36+, Debian 12): the static Swift runtime
        // and Foundation carry ~100,000 of them, which as RELA entries were 2 MB for the loader to read at each launch.
        .executableTarget(
            name: "forbc", dependencies: ["ForbcCommands"],
            linkerSettings: [.unsafeFlags(["-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs"])]),
        // Discovery + plan of a large simulated host, timed; prints figures (`swift run -c release forbc-scale`).
        .executableTarget(name: "forbc-scale", dependencies: ["ForbcCore", "ForbcSimulator", "ForbcTestSupport"]),
        // Coverage of the 95% intervals over simulated trials (`swift run -c release forbc-coverage`).
        .executableTarget(name: "forbc-coverage", dependencies: ["ForbcStats"]),
        // The fuzz target manifest → validate → plan; a replay tool unless built by Tests/Fuzz/run for libFuzzer.
        .executableTarget(name: "forbc-fuzz", dependencies: ["ForbcCore", "ForbcSimulator"]),
        .target(name: "ForbcTestSupport", dependencies: ["ForbcCore", "ForbcSimulator", "ForbcLibvirt"]),
        .testTarget(
            name: "ForbcCoreTests",
            dependencies: ["ForbcCore", "ForbcSimulator", "ForbcTestSupport", .product(name: "Yams", package: "Yams")]),
        .testTarget(
            name: "ForbcCommandsTests",
            dependencies: ["ForbcCommands", "ForbcCore", "ForbcSimulator", "ForbcTestSupport", "forbc"]),
        .testTarget(
            name: "ForbcBenchTests", dependencies: ["ForbcBench", "ForbcCore", "ForbcSimulator", "ForbcTestSupport"]),
        .testTarget(
            name: "ForbcLibvirtTests",
            dependencies: ["ForbcLibvirt", "ForbcBench", "ForbcCore", "ForbcSimulator", "ForbcTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
