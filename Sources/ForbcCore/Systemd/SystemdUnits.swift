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
        forbc: String, manifest: String, stateDir: String? = nil, metrics: String = defaultMetrics,
        driftDelay: String = "2min", driftInterval: String = "15min"
    ) throws {
        var paths = [("forbc", forbc), ("manifest", manifest), ("metrics", metrics)]
        if let stateDir { paths.append(("state dir", stateDir)) }
        for (what, path) in paths { try Self.checkPath(path, what: what) }
        for (what, span) in [("drift delay", driftDelay), ("drift interval", driftInterval)] {
            try Self.checkTimeSpan(span, what: what)
        }
        self.forbc = forbc
        self.manifest = manifest
        self.stateDir = stateDir
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

    var header: String {
        "# Written by 'forbc systemd install --manifest \(manifest)'; run it again rather than editing this file.\n"
    }

    var environment: String {
        stateDir.map { "Environment=FORBC_STATE_DIR=\(Self.escape($0))\n" } ?? ""
    }

    var mounts: String {
        let folders = [Self.folder(of: manifest), stateDir ?? "/var/lib/forbc"]
        return "RequiresMountsFor=\(folders.map(Self.escape).joined(separator: " "))\n"
    }

    func command(_ arguments: [String]) -> String {
        ([forbc] + arguments).map(Self.escape).joined(separator: " ")
    }

    var partitions: String {
        header + """
            [Unit]
            Description=forbc: GPU partitions of \(Self.escape(manifest)), before libvirt starts guests
            After=\(Self.driverServices.joined(separator: " "))
            Before=\((Self.libvirtServices + [Self.guestsService]).joined(separator: " "))
            \(mounts)
            [Service]
            Type=oneshot
            RemainAfterExit=yes
            \(environment)ExecStart=\(command(["apply", manifest, "--partitions-only", "--yes", "--no-bench"]))
            TimeoutStartSec=10min

            [Install]
            WantedBy=multi-user.target

            """
    }

    var apply: String {
        header + """
            [Unit]
            Description=forbc: GPU partitions and VM attachments of \(Self.escape(manifest)), once libvirt is up
            After=\(([Self.partitionsUnit] + Self.libvirtServices).joined(separator: " "))
            Before=\(Self.guestsService)
            Wants=\(Self.partitionsUnit)
            \(mounts)
            [Service]
            Type=oneshot
            RemainAfterExit=yes
            \(environment)ExecStart=\(command(["apply", manifest, "--yes", "--no-bench"]))
            TimeoutStartSec=10min

            [Install]
            WantedBy=multi-user.target

            """
    }

    var drift: String {
        header + """
            [Unit]
            Description=forbc: drift check of \(Self.escape(manifest)) (Prometheus textfile \(Self.escape(metrics)))
            After=\(([Self.partitionsUnit, Self.applyUnit] + Self.libvirtServices).joined(separator: " "))
            \(mounts)
            [Service]
            Type=oneshot
            \(environment)ExecStartPre=mkdir -p \(Self.escape(Self.folder(of: metrics)))
            ExecStart=\(command(["drift", manifest, "--metrics", metrics]))
            # Exit 2 is drift found: the check worked, and the textfile says so (forbc_drift 1).
            SuccessExitStatus=2
            TimeoutStartSec=5min

            """
    }

    var timer: String {
        header + """
            [Unit]
            Description=forbc: drift check of \(Self.escape(manifest)) every \(driftInterval)

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

    /// systemd expands `%` specifiers and `$` variables in command lines: doubled, they are themselves.
    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "%", with: "%%").replacingOccurrences(of: "$", with: "$$")
    }

    /// Absolute, and free of what a unit file's word splitting or line structure would change.
    static func checkPath(_ path: String, what: String) throws {
        guard path.hasPrefix("/") else {
            throw ForbcError(.invalidInput, "the \(what) path '\(path)' is not absolute; systemd units need one")
        }
        let bad = path.unicodeScalars.first { $0.properties.isWhitespace || "\"'\\;".unicodeScalars.contains($0) }
        if let bad {
            throw ForbcError(
                .invalidInput,
                "the \(what) path '\(path)' holds \(bad.properties.isWhitespace ? "white space" : "'\(bad)'"), "
                    + "which systemd unit files would split or unquote; move it to a plain path")
        }
    }

    /// A systemd time span: numbers each followed by an optional unit ("90s", "1h 30min", "15min").
    static func checkTimeSpan(_ span: String, what: String) throws {
        let units: Set<String> = [
            "", "us", "usec", "ms", "msec", "s", "sec", "second", "seconds", "m", "min", "minute", "minutes", "h",
            "hr", "hour", "hours", "d", "day", "days", "w", "week", "weeks",
        ]
        let words = span.split(separator: " ")
        let valid =
            !words.isEmpty
            && words.allSatisfy { word in
                let digits = word.prefix { $0.isASCII && $0.isNumber }
                return !digits.isEmpty && units.contains(String(word.dropFirst(digits.count)))
            }
        guard valid else {
            throw ForbcError(
                .invalidInput,
                "the \(what) '\(span)' is not a systemd time span; write it as '90s', '15min' or '1h 30min'")
        }
    }
}
