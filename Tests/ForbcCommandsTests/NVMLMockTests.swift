import ForbcCore
import ForbcSimulator
import ForbcTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The C mock of NVML (Tests/NVMLMock/mock_nvml.c), built with gcc as `libnvidia-ml.so.1` beside a stand-in
/// `nvidia-smi` (for GPU resets), once per test run.
enum NVMLMock {
    static let gcc = ["/usr/bin/gcc", "/usr/bin/cc"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// The directory holding the built library and `nvidia-smi`, or what gcc said.
    static let built: Result<URL, BuildFailure> = {
        guard let gcc else { return .failure(BuildFailure(output: "no gcc")) }
        let directory = makeTemporaryDirectory("forbc-nvml-mock")
        let source = RepositoryPaths.root.appendingPathComponent("Tests/NVMLMock/mock_nvml.c").path
        let library = directory.appendingPathComponent("libnvidia-ml.so.1").path
        let smi = directory.appendingPathComponent("nvidia-smi").path
        for arguments in [
            ["-Wall", "-Werror", "-shared", "-fPIC", "-o", library, source],
            ["-Wall", "-Werror", "-DFORBC_MOCK_SMI", "-o", smi, source],
        ] {
            let outcome = try? runProcess(gcc, arguments)
            guard outcome?.code == 0 else {
                return .failure(BuildFailure(output: outcome?.stderr ?? "gcc did not run"))
            }
        }
        return .success(directory)
    }()

    struct BuildFailure: Error, CustomStringConvertible {
        var output: String
        var description: String { "building Tests/NVMLMock/mock_nvml.c failed: \(output)" }
    }

    /// The built mock's directory (a test that needs it fails with gcc's words when it could not be built).
    static var directory: URL { get throws { try built.get() } }
    static var library: String { get throws { try directory.appendingPathComponent("libnvidia-ml.so.1").path } }
    static var smi: String { get throws { try directory.appendingPathComponent("nvidia-smi").path } }

    /// A fresh host: an empty state file (MIG off, no instances), which the mock in this process uses from now on.
    static func freshState() throws -> String {
        let state = makeTemporaryDirectory("forbc-nvml-mock-state").appendingPathComponent("state").path
        try configure(state: state)
        return state
    }

    /// Gives the mock loaded in this process its state file and the calls that fail ("call:code,…"), through its
    /// own entry point: a test never changes this process's environment, which other suites' threads copy when
    /// they start processes. Processes get the same through `FORBC_NVML_MOCK_STATE` and `FORBC_NVML_MOCK_FAIL`
    /// in the environment they are given.
    static func configure(state: String, fail: String? = nil) throws {
        typealias Configure = @convention(c) (UnsafePointer<CChar>?, UnsafePointer<CChar>?) -> Void
        unsafeBitCast(try entry("forbc_nvml_mock_configure"), to: Configure.self)(state, fail)
    }

    /// Gives the mock loaded in this process its active vGPU instances ("type@placement,…", see mock_nvml.c),
    /// after `configure` (which clears them); a process gets the same as `FORBC_NVML_MOCK_VGPUS`.
    static func configureVGPUs(_ spec: String) throws {
        typealias Configure = @convention(c) (UnsafePointer<CChar>?) -> Void
        unsafeBitCast(try entry("forbc_nvml_mock_configure_vgpus"), to: Configure.self)(spec)
    }

    /// A function of the mock loaded in this process. The handle stays open: the configuration lives as long as
    /// the library stays loaded in this process, and NVMLLibrary's dlopen of the same file gets this copy.
    static func entry(_ name: String) throws -> UnsafeMutableRawPointer {
        guard let handle = dlopen(try library, RTLD_NOW | RTLD_LOCAL), let entry = dlsym(handle, name) else {
            throw BuildFailure(output: "the mock has no \(name): \(dlerror().map { String(cString: $0) } ?? "?")")
        }
        return entry
    }

    /// `nvidia-smi --mock-processes` (the stand-in, a process of its own, given the state file in its
    /// environment): `count` processes on GPU instance `instance` of `device`; its exit status.
    static func setProcesses(device: Int, instance: Int, count: Int, state: String) throws -> Int32 {
        try runProcess(
            try smi, ["--mock-processes", "\(device)", "\(instance)", "\(count)"],
            environment: ["FORBC_NVML_MOCK_STATE": state]
        ).code
    }

    /// The mock loaded through NVMLLibrary's dlopen path, its state re-read.
    static func load() throws -> NVMLLibrary { try NVMLLibrary.load(path: try library).get() }
}

/// Every NVMLLibrary call path against the C mock, and the forbc binary applying and destroying MIG layouts
/// through it (issue 13: typed NVML, executed in tests).
@Suite("NVML through the C mock", .serialized, .enabled(if: NVMLMock.gcc != nil))
struct NVMLMockTests {
    @Test("the mock and the simulated NVML give identical discovery for the same GPUs")
    func discoveryParity() throws {
        _ = try NVMLMock.freshState()
        let real = try NVMLMock.load().devices()
        let h100 = try SimulatedNVML(kernel: SimulatedKernel(model: SimulatedProfiles.make("nvidia-h100")!)).devices()
        #expect(real["0000:00:06.0"] == h100["0000:00:06.0"])
        var a100 = try #require(
            try SimulatedNVML(kernel: SimulatedKernel(model: SimulatedProfiles.make("nvidia-a100-40gb")!)).devices()[
                "0000:07:00.0"])
        a100.index = 1
        #expect(real["0000:07:00.0"] == a100)
        // The same changes on both: the same instances (MIG UUIDs are the driver's own, so only counted).
        let simulated = SimulatedNVML(kernel: SimulatedKernel(model: SimulatedProfiles.make("nvidia-a100-40gb")!))
        let mock = try NVMLMock.load()
        for (device, nvml) in [(0, simulated as any NVMLChannel), (1, mock)] {
            _ = try nvml.setMIGMode(device: device, enabled: true)
            _ = try nvml.createInstance(
                device: device, profileID: 9, placement: MIGPlacement(start: 4, size: 4), computeSlices: 1)
            _ = try nvml.createInstance(
                device: device, profileID: 19, placement: MIGPlacement(start: 1, size: 1), computeSlices: nil)
        }
        func shape(_ state: MIGState?) -> [String] {
            (state?.instances ?? []).map {
                "\($0.id) \($0.profileID) \($0.placement) \($0.uuids.count) \($0.processes) \($0.computeSizes ?? [])"
            }
        }
        let fromMock = try mock.devices()["0000:07:00.0"]
        let fromSimulation = try simulated.devices()["0000:07:00.0"]
        #expect(shape(fromMock) == shape(fromSimulation) && shape(fromMock).count == 2)
        #expect(fromMock?.currentMode == fromSimulation?.currentMode)
    }

    @Test("create (with compute instances), destroy, mode and in-use paths run, with NVML's codes")
    func callPaths() throws {
        let state = try NVMLMock.freshState()
        let nvml = try NVMLMock.load()
        #expect(try nvml.setMIGMode(device: 1, enabled: true) == false, "the A100 changes mode at once")
        #expect(try nvml.setMIGMode(device: 0, enabled: true) == true, "the H100 in a VM waits for a reset")
        let split = try nvml.createInstance(
            device: 1, profileID: 9, placement: MIGPlacement(start: 0, size: 4), computeSlices: 1)
        #expect(split.uuids.count == 3 && split.uuids.allSatisfy { $0.hasPrefix("MIG-") })
        let whole = try nvml.createInstance(
            device: 1, profileID: 14, placement: MIGPlacement(start: 4, size: 2), computeSlices: nil)
        #expect(whole.uuids.count == 1)
        do {
            _ = try nvml.createInstance(
                device: 1, profileID: 14, placement: MIGPlacement(start: 4, size: 2), computeSlices: nil)
            Issue.record("created over a taken slot")
        } catch let error as ForbcError {
            #expect(
                error.message
                    == "NVML: nvmlDeviceCreateGpuInstanceWithPlacement failed: Insufficient resources "
                    + "(NVML_ERROR_INSUFFICIENT_RESOURCES)")
        }
        let a100 = try #require(try NVMLMock.load().devices()["0000:07:00.0"])
        #expect(a100.instances.map(\.placement.start) == [0, 4] && a100.instances.map(\.uuids.count) == [3, 1])
        // Processes on an instance: reported, and NVML refuses to destroy it.
        #expect(try NVMLMock.setProcesses(device: 1, instance: split.id, count: 2, state: state) == 0)
        let busy = try NVMLMock.load()
        #expect(try busy.devices()["0000:07:00.0"]?.instances.first?.processes == 2)
        #expect(throws: ForbcError.self) { try busy.destroyInstance(device: 1, instanceID: split.id) }
        #expect(throws: ForbcError.self) { try busy.setMIGMode(device: 1, enabled: false) }
        #expect(try NVMLMock.setProcesses(device: 1, instance: split.id, count: 0, state: state) == 0)
        let idle = try NVMLMock.load()
        try idle.destroyInstance(device: 1, instanceID: split.id)
        try idle.destroyInstance(device: 1, instanceID: whole.id)
        // A 7g split into 2-slice compute instances: three of them (the seventh slice stays unused).
        let seven = try idle.createInstance(
            device: 1, profileID: 0, placement: MIGPlacement(start: 0, size: 8), computeSlices: 2)
        #expect(seven.uuids.count == 3)
        try idle.destroyInstance(device: 1, instanceID: seven.id)
        // Mixed sizes: a 2-slice and a 1-slice compute instance on a 3g.
        let mixed = try idle.createInstance(
            device: 1, profileID: 9, placement: MIGPlacement(start: 4, size: 4), computeSlices: nil, computeCount: nil,
            computeInstances: [2, 1])
        #expect(mixed.uuids.count == 2)
        try idle.destroyInstance(device: 1, instanceID: mixed.id)
        #expect(try idle.setMIGMode(device: 1, enabled: false) == false)
        #expect(try idle.devices()["0000:07:00.0"].map { !$0.currentMode && $0.instances.isEmpty } == true)
        // Injected errors come back with NVML's text and code name.
        try NVMLMock.configure(state: state, fail: "nvmlDeviceSetMigMode:4")
        defer { try? NVMLMock.configure(state: state) }
        do {
            _ = try idle.setMIGMode(device: 1, enabled: true)
            Issue.record("an injected error was not reported")
        } catch let error as ForbcError {
            #expect(
                error.message
                    == "NVML: nvmlDeviceSetMigMode failed: Insufficient Permissions (NVML_ERROR_NO_PERMISSION)")
        }
        #expect(FileManager.default.fileExists(atPath: state))
    }

    @Test("a library that is not there, or a driver that does not load, is no MIG capability, with the reason")
    func loadFailures() throws {
        let state = try NVMLMock.freshState()
        guard case .failure(let missing) = NVMLLibrary.load(path: "/nonexistent/libnvidia-ml.so.1") else {
            Issue.record("loaded a library that is not there")
            return
        }
        #expect(missing.message.hasPrefix("NVML is not available: dlopen('/nonexistent/libnvidia-ml.so.1') failed: "))
        try NVMLMock.configure(state: state, fail: "nvmlInit_v2:9")
        defer { try? NVMLMock.configure(state: state) }
        guard case .failure(let unloaded) = NVMLLibrary.load(path: try NVMLMock.library) else {
            Issue.record("initialized NVML without a driver")
            return
        }
        #expect(unloaded.message == "NVML: nvmlInit_v2 failed: Driver Not Loaded (NVML_ERROR_DRIVER_NOT_LOADED)")
    }

    /// A host for the forbc binary over the mock: a fresh NVML state, a manifest whose `gpus:` are `gpus` (YAML
    /// list items, indented under it) in a new directory, the arguments that point forbc at the mock's tree and at
    /// that directory's state, and the environment that loads the mock (its `nvidia-smi` first in `PATH`).
    struct MockHost {
        let state: String
        let base: URL
        let manifest: String
        let common: [String]
        var environment: [String: String]
    }

    func mockHost(_ label: String, gpus: String) throws -> MockHost {
        let state = try NVMLMock.freshState()
        let base = makeTemporaryDirectory("forbc-nvml-mock-\(label)")
        let manifest = base.appendingPathComponent("host.yaml").path
        try "apiVersion: forbc/v1\nkind: Host\nmetadata: {name: mock}\nspec:\n  gpus:\n\(gpus)\n"
            .write(toFile: manifest, atomically: true, encoding: .utf8)
        let environment = [
            "FORBC_NVML_LIBRARY": try NVMLMock.library, "FORBC_NVML_MOCK_STATE": state,
            "PATH": "\(try NVMLMock.directory.path):\(ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin")",
        ]
        let common = ["--root", try root(), "--state-dir", base.appendingPathComponent("state").path]
        return MockHost(state: state, base: base, manifest: manifest, common: common, environment: environment)
    }

    /// Waits until the mock's `nvidia-smi --gpu-reset` has created `started` (it runs while forbc applies).
    func awaitReset(_ running: ForbcBinary.Running, started: String) throws {
        let deadline = Date().addingTimeInterval(60)
        while !FileManager.default.fileExists(atPath: started) && Date() < deadline && running.process.isRunning {
            usleep(20_000)
        }
        try #require(FileManager.default.fileExists(atPath: started), "nvidia-smi --gpu-reset did not start")
    }

    /// The two mock GPUs as a sysfs tree under a root, for the forbc binary.
    func root() throws -> String {
        let h100 = SimulatedProfiles.make("nvidia-h100")!.devices
        let a100 = SimulatedProfiles.make("nvidia-a100-40gb")!.devices.prefix(1)
        let model = SimulatedHostModel(profile: "nvml-mock", provenance: "the C mock", devices: h100 + a100)
        let root = makeTemporaryDirectory("forbc-nvml-mock-root")
        try SimulatedKernel(model: model).materialize(into: root)
        return root.path
    }

    @Test("Ctrl-C during a GPU reset: nvidia-smi finishes it, forbc finishes that step and stops; a rerun goes on")
    func interruptedReset() throws {
        // Steps: MIG mode (with '--reset-gpu', the reset that applies it), 'train', 'infer'.
        let (running, resetting) = try startReset(
            delay: 1500, "sigint",
            gpus: """
                    - select: {pciAddress: "0000:00:06.0"}
                      mig: [{name: train, profile: 3g.40gb}, {name: infer, profile: 1g.10gb}]
                """)
        var host = resetting
        let apply = ["apply", host.manifest, "--yes", "--no-bench", "--reset-gpu"] + host.common
        // The terminal's Ctrl-C goes to its foreground process group: forbc leads one here (Foundation's Process
        // starts it so, as a shell starts a job), so the test runner's group is not hit.
        #expect(kill(-running.process.processIdentifier, SIGINT) == 0)
        let outcome = running.wait()
        #expect(outcome.code == 130 && !outcome.signalled, "\(outcome.stdout)\(outcome.stderr)")
        #expect(outcome.stderr.contains("forbc: SIGINT received; the step under way finishes"), "\(outcome.stderr)")
        #expect(
            outcome.stderr.contains(
                "error: apply stopped by SIGINT after 1 of 3 steps; 2 not attempted; run 'apply' again to continue"),
            "\(outcome.stderr)")
        #expect(outcome.stdout.contains("Apply stopped by SIGINT after step 1 of 3"), "\(outcome.stdout)")
        let h100 = try #require(try NVMLMock.load().devices()["0000:00:06.0"])
        #expect(h100.currentMode, "nvidia-smi finished the reset, and forbc the step")
        #expect(h100.instances.isEmpty, "the steps after it were not attempted")
        host.environment["FORBC_NVML_MOCK_SMI_DELAY_MS"] = nil
        let rerun = try ForbcBinary.run(apply, environment: host.environment)
        #expect(rerun.code == 0, "\(rerun.stdout)\(rerun.stderr)")
        #expect(try NVMLMock.load().devices()["0000:00:06.0"]?.instances.count == 2)
    }

    @Test("the forbc binary applies and destroys MIG layouts through NVML calls: an error, a pending mode, a rerun")
    func endToEnd() throws {
        let host = try mockHost(
            "e2e",
            gpus: """
                    - select: {pciAddress: "0000:07:00.0"}
                      mig: [{name: batch, profile: 3g.20gb, computeSlices: 1}, {name: dev, profile: 2g.10gb}]
                    - select: {pciAddress: "0000:00:06.0"}
                      mig: [{name: train, profile: 3g.40gb}]
                """)
        let (manifest, common) = (host.manifest, host.common)
        var environment = host.environment
        let apply = ["apply", manifest, "--yes", "--no-bench"] + common
        environment["FORBC_NVML_MOCK_FAIL"] = "nvmlDeviceCreateGpuInstanceWithPlacement:23"
        let failed = try ForbcBinary.run(apply, environment: environment)
        #expect(failed.code != 0)
        #expect(
            failed.stderr.contains(
                "NVML: nvmlDeviceCreateGpuInstanceWithPlacement failed: Insufficient resources "
                    + "(NVML_ERROR_INSUFFICIENT_RESOURCES)"), "\(failed.stderr)")
        environment["FORBC_NVML_MOCK_FAIL"] = nil
        let pending = try ForbcBinary.run(apply, environment: environment)
        #expect(pending.code != 0)
        #expect(pending.stderr.contains("MIG mode of 0000:00:06.0 is pending a GPU reset"), "\(pending.stderr)")
        let reset = try ForbcBinary.run(apply + ["--reset-gpu"], environment: environment)
        #expect(reset.code == 0, "\(reset.stdout)\(reset.stderr)")
        let plan = try ForbcBinary.run(["plan", manifest] + common, environment: environment)
        #expect(plan.stdout.contains("No changes"), "\(plan.stdout)\(plan.stderr)")
        let devices = try NVMLMock.load().devices()
        #expect(devices["0000:07:00.0"]?.instances.map(\.uuids.count) == [3, 1])
        #expect(devices["0000:00:06.0"]?.instances.map(\.placement.start) == [0])
        // Destroy: the instances, then MIG mode (the H100's change waits for the reset it is allowed).
        let destroy = try ForbcBinary.run(
            ["destroy", manifest, "--yes", "--reset-gpu"] + common, environment: environment)
        #expect(destroy.code == 0, "\(destroy.stdout)\(destroy.stderr)")
        let after = try NVMLMock.load().devices()
        #expect(after.values.allSatisfy { $0.instances.isEmpty && !$0.currentMode && !$0.pendingMode })
    }
}
