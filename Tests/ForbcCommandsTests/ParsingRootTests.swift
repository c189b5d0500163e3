import ArgumentParser
import ForbcCommands
import Foundation
import Testing

/// `ForbcCommand.parseCommand` parses without ArgumentParser's completion-script check; whatever it answers must be
/// what `parseAsRoot` answers: the same command with the same options, or the same error, said the same way.
@Suite("parsing a command line without the completion-script check")
struct ParsingRootTests {
    static let commandLines: [[String]] = [
        ["discover", "--root", "/srv/tree", "--output", "json", "--include", "0000:3b:00.0"],
        ["discover", "--simulate", "nvidia-t4", "-v"],
        ["plan", "m.yaml", "--simulate", "nvidia-t4", "--detailed-exitcode"],
        ["apply", "m.yaml", "--yes", "--force", "--state-dir", "/tmp/x"],
        ["drift", "m.yaml", "--metrics", "/run/forbc.prom"],
        ["bench", "list", "--simulate", "nvidia-t4"],
        ["systemd", "install", "--manifest", "host.yaml", "--unit-dir", "/tmp/units"],
        // Help, a validation error, the version and completion scripts: answered by the root, as before.
        ["systemd", "install", "--help"], ["sync", "--repo", "-x", "--path", "hosts/%H.yaml"],
        [], ["-h"], ["--help"], ["help"], ["help", "discover"], ["discover", "-h"], ["bench"], ["systemd"],
        ["--version"], ["discover", "--version"], ["--generate-completion-script", "bash"],
        ["--generate-completion-script"], ["discover", "--generate-completion-script", "zsh"],
        ["--experimental-dump-help"], ["discover", "--experimental-dump-help"], ["---completion", "discover", "--"],
        // Errors: unknown commands and options, missing and malformed values.
        ["discoverx"], ["discover", "--bogus"], ["discover", "--output", "xml"], ["discover", "--root"], ["plan"],
        ["plan", "a.yaml", "b.yaml"], ["bench", "run"], ["--root", "/x"], ["discover", "--", "--root"],
    ]

    @Test("the same command, or the same error, as parseAsRoot", arguments: commandLines)
    func same(_ arguments: [String]) {
        let fast = Result { try ForbcCommand.parseCommand(arguments) }
        let root = Result { try ForbcCommand.parseAsRoot(arguments) }
        switch (fast, root) {
        case (.success(let fast), .success(let root)):
            #expect(Self.described(fast) == Self.described(root))
        case (.failure(let fast), .failure(let root)):
            #expect(ForbcCommand.fullMessage(for: fast) == ForbcCommand.fullMessage(for: root))
            #expect(ForbcCommand.exitCode(for: fast) == ForbcCommand.exitCode(for: root))
        default:
            Issue.record("parseCommand \(fast) but parseAsRoot \(root) for \(arguments)")
        }
    }

    @Test("forbc's commands are parsed without the check; help, the version and completion scripts with it")
    func quick() {
        for arguments in Self.commandLines.prefix(7) {
            #expect(ForbcCommand.quickParse(arguments) != nil, "\(arguments)")
        }
        for arguments in Self.commandLines.dropFirst(7) {
            #expect(ForbcCommand.quickParse(arguments) == nil, "\(arguments)")
        }
    }

    @Test("a completion script is still written")
    func completionScript() {
        let result = CLI().run(["--generate-completion-script", "bash"])
        #expect(result.code == 0)
        #expect(result.stdout.contains("complete -o filenames -F _forbc forbc"))
    }

    /// The command's type and every stored option, as `dump` shows them.
    static func described(_ command: any ParsableCommand) -> String {
        var text = ""
        dump(command, to: &text)
        return text
    }
}
