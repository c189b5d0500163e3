import ArgumentParser
import ForbcCore

/// `forbc validate FILE…`: every problem in every file, each `FILE:LINE:COL: error: message`.
struct Validate: ForbcSubcommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check manifests and campaigns; report every problem at once.",
        discussion: """
            Examples:
              forbc validate Manifests/*.yaml
              forbc validate host.yaml --output json
            """)

    @Argument(help: ArgumentHelp("Manifest files.", valueName: "FILE"))
    var files: [String]

    @Option(help: "Output format: text or json.")
    var output: GlobalOptions.OutputFormat = .text

    func execute() throws {
        var all: [Diagnostic] = []
        var valid: [String] = []
        for file in files {
            do {
                if CampaignParser.declaredKind(ofFileAt: file) == Campaign.kind {
                    let campaign = try CampaignParser.parse(contentsOf: file, streams: .read)
                    try WorkloadFolder.check(campaign, folder: WorkloadFolder.path(for: campaign, override: nil))
                    valid.append(file)
                    continue
                }
                let manifest = try loadManifest(file)
                // The suites' workloads must be there too (workloads/ beside the manifest).
                try WorkloadFolder.check(manifest, folder: WorkloadFolder.path(for: file, override: nil))
                valid.append(file)
            } catch let error as DiagnosticsError {
                all += error.diagnostics.map { d in
                    var d = d
                    if d.location == nil { d.location = SourceLocation(file: file, line: 1, column: 1) }
                    return d
                }
            }
        }
        if output == .json {
            Console.current.out(
                try Render.json(
                    [
                        "valid": valid,
                        "errors": all.map { d -> [String: Any] in
                            [
                                "file": d.location?.file ?? "", "line": d.location?.line ?? 0,
                                "column": d.location?.column ?? 0, "message": d.message,
                            ]
                        },
                    ] as [String: Any]))
        } else {
            for file in valid { Console.current.out("\(file): valid") }
        }
        for diagnostic in all { Console.current.err(diagnostic.description) }
        if !all.isEmpty { throw ExitCode.failure }
    }
}
