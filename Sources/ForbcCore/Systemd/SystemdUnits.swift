/// The systemd units that keep a host's partitions across reboots and check it for drift on a timer
/// (`forbc systemd install`). Pure text: the command writes it.
///
/// - `forbc-partitions.service`: at boot, the partitions alone (`apply --partitions-only`, libvirt not consulted),
///   after the kernel modules and NVIDIA's services that exist, before libvirtd (or virtqemud) starts and
///   autostarts domains whose persistent definitions hold them, and before libvirt-guests resumes saved ones.
/// - `forbc-apply.service`: once libvirtd is up, the whole manifest (attachments too): converged after a
///   plain reboot, it repairs what changed meanwhile.
/// - `forbc-drift.service` and `forbc-drift.timer`: `forbc drift --metrics FILE` (exit 2, drift, is a success
///   of the check: the textfile says it), first after boot, then at an interval.
public struct SystemdUnits: Sendable, Equatable {
    /// The forbc executable the units run (absolute).
    public var forbc: String
    /// The manifest (absolute).
    public var manifest: String
    /// The state dir, when not forbc's default.
    public var stateDir: String?
    /// The libvirt URI, when not forbc's default.
    public var libvirt: String?
    /// The Prometheus textfile the drift check writes.
    public var metrics: String
    /// systemd time spans: the first drift check after boot, then between checks.
    public var driftDelay: String
    public var driftInterval: String

    public static let defaultMetrics = "/var/lib/prometheus/node-exporter/forbc.prom"
    public static let partitionsUnit = "forbc-partitions.service"
    public static let applyUnit = "forbc-apply.service"
    public static let driftUnit = "forbc-drift.service"
    public static let timerUnit = "forbc-drift.timer"

    /// Units ordered after these when they exist; After= on a unit that does not exist orders nothing, so the
    /// list needs no discovery of what is installed. Wants= is not used: each starts itself where installed.
    public static let driverServices = [
        "systemd-modules-load.service", "systemd-udev-settle.service", "nvidia-persistenced.service",
        "nvidia-fabricmanager.service", "nvidia-vgpud.service", "nvidia-vgpu-mgr.service",
    ]
    /// libvirt's daemons that autostart domains (the monolithic one, and the modular QEMU one), and the
    /// service that resumes saved guests.
    public static let libvirtServices = ["libvirtd.service", "virtqemud.service"]
    public static let guestsService = "libvirt-guests.service"

    public init(
        forbc: String, manifest: String, stateDir: String? = nil, libvirt: String? = nil,
        metrics: String = defaultMetrics, driftDelay: String = "2min", driftInterval: String = "15min"
    ) throws {
        var paths = [("forbc", forbc), ("manifest", manifest), ("metrics", metrics)]
        if let stateDir { paths.append(("state dir", stateDir)) }
        for (what, path) in paths { try Self.checkPath(path, what: what) }
        // systemd undoes "$$" in an Exec line's arguments, not in the program's path: no way to write a "$" there.
        if forbc.contains("$") {
            throw ForbcError(
                .invalidInput, "the forbc path '\(forbc)' holds '$', which systemd cannot run; install forbc elsewhere")
        }
        if let libvirt { try Self.checkValue(libvirt, what: "libvirt URI '\(libvirt)'") }
        try Self.checkTimeSpan(driftDelay, option: "--drift-delay", zero: true)
        try Self.checkTimeSpan(driftInterval, option: "--drift-interval", zero: false)
        self.forbc = forbc
        self.manifest = manifest
        self.stateDir = stateDir
        self.libvirt = libvirt
        self.metrics = metrics
        self.driftDelay = driftDelay
        self.driftInterval = driftInterval
    }

    /// The units, by file name, in the order they are installed.
    public var files: [(name: String, text: String)] {
        [
            (Self.partitionsUnit, partitions), (Self.applyUnit, apply), (Self.driftUnit, drift),
            (Self.timerUnit, timer),
        ]
    }

    /// The links `systemctl enable` would make: (folder in the unit dir, unit).
    public var enableLinks: [(wants: String, unit: String)] {
        [
            ("multi-user.target.wants", Self.partitionsUnit), ("multi-user.target.wants", Self.applyUnit),
            ("timers.target.wants", Self.timerUnit),
        ]
    }

    /// How every unit forbc writes begins: `forbc systemd install` replaces a file that begins so, and refuses
    /// (without `--force`) to replace one that does not.
    public static let headerPrefix = "# Written by 'forbc systemd install"

    var header: String {
        "\(Self.headerPrefix) --manifest \(manifest)'; run it again rather than editing this file.\n"
    }

    var environment: String {
        let variables = [("FORBC_STATE_DIR", stateDir), ("FORBC_LIBVIRT_URI", libvirt)]
        return variables.compactMap { name, value in value.map { "Environment=\(name)=\(Self.text($0))\n" } }.joined()
    }

    /// How long systemd waits, once it asked an apply unit to stop, before it SIGKILLs what is left of it: above
    /// the longest step forbc lets finish, a GPU reset (`NVMLLibrary.resetTimeout`, 300 s, then 5 s of grace
    /// before its SIGKILL), with 25 s to spare for forbc's own end: 330 s.
    public static let stopTimeout = "\(Int(NVMLLibrary.resetTimeout) + 30)s"

    /// How the apply units stop (systemctl stop, a shutdown, `TimeoutStartSec` passed): systemd's default
    /// KillMode=control-group would SIGTERM every process of the unit (a GPU reset, an MPS control command) and
    /// SIGKILL them 90 s later; `mixed` sends SIGTERM to forbc alone, which finishes the step under way and exits
    /// 143, and SIGKILL to what is left after `stopTimeout`. Exit 143 is a success for systemd: a stop asked for is
    /// no failure of the host (forbc's journal line says which steps were not attempted, and the next start does
    /// them); a start that timed out stays a failure (systemd's result is `timeout`), as does a SIGINT (130).
    var stopping: String {
        """
        # A stop: SIGTERM to forbc alone, which finishes the step under way (a GPU reset may take 300 s) and exits
        # 143 (a stop asked for, not a failure); SIGKILL to every process left after TimeoutStopSec.
        KillMode=mixed
        TimeoutStopSec=\(Self.stopTimeout)
        SuccessExitStatus=143
        """
    }

    var mounts: String {
        let folders = [Self.folder(of: manifest), stateDir ?? "/var/lib/forbc"]
        return "RequiresMountsFor=\(folders.map(Self.text).joined(separator: " "))\n"
    }

    func command(_ arguments: [String]) -> String {
        ([Self.text(forbc)] + arguments.map(Self.argument)).joined(separator: " ")
    }

    var partitions: String {
        header + """
            [Unit]
            Description=forbc: GPU partitions of \(Self.text(manifest)), before libvirt starts guests
            After=\(Self.driverServices.joined(separator: " "))
            Before=\((Self.libvirtServices + [Self.guestsService]).joined(separator: " "))
            \(mounts)
            [Service]
            Type=oneshot
            RemainAfterExit=yes
            \(environment)ExecStart=\(command(["apply", manifest, "--partitions-only", "--yes", "--no-bench"]))
            TimeoutStartSec=10min
            \(stopping)

            [Install]
            WantedBy=multi-user.target

            """
    }

    var apply: String {
        header + """
            [Unit]
            Description=forbc: GPU partitions and VM attachments of \(Self.text(manifest)), once libvirt is up
            After=\(([Self.partitionsUnit] + Self.libvirtServices).joined(separator: " "))
            Before=\(Self.guestsService)
            Wants=\(Self.partitionsUnit)
            \(mounts)
            [Service]
            Type=oneshot
            RemainAfterExit=yes
            \(environment)ExecStart=\(command(["apply", manifest, "--yes", "--no-bench"]))
            TimeoutStartSec=10min
            \(stopping)

            [Install]
            WantedBy=multi-user.target

            """
    }

    var drift: String {
        header + """
            [Unit]
            Description=forbc: drift check of \(Self.text(manifest)) (Prometheus textfile \(Self.text(metrics)))
            After=\(([Self.partitionsUnit, Self.applyUnit] + Self.libvirtServices).joined(separator: " "))
            \(mounts)
            [Service]
            Type=oneshot
            \(environment)ExecStartPre=mkdir -p \(Self.argument(Self.folder(of: metrics)))
            ExecStart=\(command(["drift", manifest, "--metrics", metrics]))
            # Exit 2 is drift found: the check worked, and the textfile says so (forbc_drift 1).
            SuccessExitStatus=2
            TimeoutStartSec=5min

            """
    }

    var timer: String {
        header + """
            [Unit]
            Description=forbc: drift check of \(Self.text(manifest)) every \(driftInterval)

            [Timer]
            OnBootSec=\(driftDelay)
            OnUnitActiveSec=\(driftInterval)
            AccuracySec=1s
            Unit=\(Self.driftUnit)

            [Install]
            WantedBy=timers.target

            """
    }

    /// The folder holding `path` ("/" for a file at the root).
    static func folder(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return "/" }
        return String(path[..<slash])
    }

    /// A value in a line where systemd expands `%` specifiers (Description=, Environment=, RequiresMountsFor=,
    /// an Exec line's program): "%%" is "%". systemd leaves `$` alone there.
    static func text(_ text: String) -> String {
        text.replacingOccurrences(of: "%", with: "%%")
    }

    /// An argument of an Exec line, where systemd also expands `$` variables when it runs it: "$$" is "$".
    static func argument(_ text: String) -> String {
        Self.text(text).replacingOccurrences(of: "$", with: "$$")
    }

    /// Absolute, and free of what a unit file's word splitting or line structure would change.
    static func checkPath(_ path: String, what: String) throws {
        guard path.hasPrefix("/") else {
            throw ForbcError(.invalidInput, "the \(what) path '\(path)' is not absolute; systemd units need one")
        }
        try checkValue(path, what: "\(what) path '\(path)'")
    }

    /// Free of what a unit file's word splitting or line structure would change.
    static func checkValue(_ value: String, what: String) throws {
        let bad = value.unicodeScalars.first {
            $0.properties.isWhitespace || $0.properties.generalCategory == .control
                || "\"'\\;".unicodeScalars.contains($0)
        }
        if let bad {
            let named =
                bad.properties.isWhitespace ? "white space" : bad.value < 32 ? "a control character" : "'\(bad)'"
            throw ForbcError(
                .invalidInput,
                "the \(what) holds \(named), which systemd unit files would split or unquote; use a plain one")
        }
    }

    /// A time span systemd accepts (`SystemdTimeSpan`), finite, and not 0 unless `zero`.
    static func checkTimeSpan(_ span: String, option: String, zero: Bool) throws {
        let value = SystemdTimeSpan.microseconds(span)
        let problem: String? =
            span.contains(where: \.isNewline) || value == nil
            ? "is not a systemd time span (or 2^64 µs or more)"
            : value == SystemdTimeSpan.infinity
                ? "is infinity: the timer would never fire"
                : value == 0 && !zero ? "is 0, no interval between checks" : nil
        if let problem {
            throw ForbcError(
                .invalidInput,
                "'\(option) \(span)' \(problem); write it as systemd does: '90s', '15min', '1h30min' or '1h 30min'")
        }
    }
}
