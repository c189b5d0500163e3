import ForbcCore
import Foundation

/// A bare repository and a work tree cloned from it in a temporary directory, driven by the real `git` (for
/// the provenance and `forbc sync` tests): commits as a fixed test identity, signed with an SSH key on request.
public struct GitFixture {
    public let directory: URL
    /// The bare repository `forbc sync` fetches from.
    public let bare: URL
    /// The clone commits are made in and pushed from.
    public let work: URL

    /// A fresh bare repository (branch 'main') and its clone.
    public init(_ label: String = "git") throws {
        directory = makeTemporaryDirectory(label)
        bare = directory.appendingPathComponent("remote.git")
        work = directory.appendingPathComponent("work")
        try Self.git(["init", "--quiet", "--bare", "--initial-branch=main", bare.path])
        try Self.git(["init", "--quiet", "--initial-branch=main", work.path])
        try git(["remote", "add", "origin", bare.path])
    }

    /// Runs the real git with `arguments`; its standard output, or an error with its words.
    @discardableResult
    public static func git(_ arguments: [String]) throws -> String {
        // The test identity and no signing unless asked, whatever the machine's git configuration says.
        let config = [
            "user.name=forbc test", "user.email=test@forbc.invalid", "commit.gpgsign=false", "init.defaultBranch=main",
        ]
        let output = try RealGit().run(config.flatMap { ["-c", $0] } + arguments)
        guard output.succeeded else {
            throw ForbcError(.system, "git \(arguments.joined(separator: " ")): \(output.words)")
        }
        return output.stdout
    }

    /// git in the work tree.
    @discardableResult
    public func git(_ arguments: [String]) throws -> String { try Self.git(["-C", work.path] + arguments) }

    /// Writes `text` at `path` in the work tree (creating its folders).
    public func write(_ path: String, _ text: String) throws {
        let url = work.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: true, encoding: .utf8)
    }

    /// Commits everything in the work tree (signed with `signingKey`, an SSH private key, when given) and pushes
    /// it to the bare repository's 'main'; the commit's id.
    @discardableResult
    public func commit(_ message: String, signingKey: String? = nil) throws -> String {
        try git(["add", "--all"])
        let signing = signingKey.map { ["-c", "gpg.format=ssh", "-c", "user.signingkey=\($0)", "commit", "-S"] }
        try git((signing ?? ["commit"]) + ["--quiet", "--allow-empty", "-m", message])
        try git(["push", "--quiet", "origin", "HEAD:main"])
        return try git(["rev-parse", "HEAD"]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// An SSH key pair for signing, and the allowed-signers file that trusts it: (private key, allowed signers).
    public func signingKey() throws -> (key: String, allowedSigners: String) {
        let key = directory.appendingPathComponent("signing-key").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "forbc-test", "-f", key]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ForbcError(.system, "ssh-keygen failed (exit \(process.terminationStatus)); install openssh-client")
        }
        let publicKey = try String(contentsOfFile: key + ".pub", encoding: .utf8)
        let allowed = directory.appendingPathComponent("allowed-signers").path
        try "test@forbc.invalid \(publicKey)".write(toFile: allowed, atomically: true, encoding: .utf8)
        return (key, allowed)
    }
}
