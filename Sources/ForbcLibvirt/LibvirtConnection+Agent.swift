import CLibvirt
import ForbcCore
import Foundation

/// The QEMU guest agent of a domain, through libvirt-qemu's `virDomainQemuAgentCommand` (JSON in, JSON out).
extension LibvirtConnection: GuestAgentChannel {
    /// How long one agent command may take before libvirt gives up (seconds).
    static let agentCommandTimeout: Int32 = 30

    /// One agent command: `execute` with `arguments`; returns the reply's `return` value.
    func agent(_ domainName: String, _ execute: String, _ arguments: [String: Any]) throws -> Any {
        guard let domain = api.virDomainLookupByName(connection, domainName) else {
            throw Self.error("virDomainLookupByName('\(domainName)')")
        }
        defer { _ = api.virDomainFree(domain) }
        let command = try JSONSerialization.data(withJSONObject: ["execute": execute, "arguments": arguments])
        guard
            let reply = api.virDomainQemuAgentCommand(
                domain, String(decoding: command, as: UTF8.self), Self.agentCommandTimeout, 0)
        else {
            throw Self.error("virDomainQemuAgentCommand('\(domainName)', \(execute))")
        }
        defer { free(reply) }
        let text = String(cString: reply)
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
            let value = object["return"]
        else {
            throw ForbcError(.hypervisor, "the guest agent of '\(domainName)' answered \(execute) with '\(text)'")
        }
        return value
    }

    public func exec(domain: String, _ arguments: [String], environment: [String: String], timeout: Double) throws
        -> GuestExit
    {
        guard let program = arguments.first else { throw ForbcError(.invalidInput, "nothing to run in '\(domain)'") }
        let started = try agent(domain, "guest-exec", Self.execArguments(arguments, environment: environment))
        guard let pid = (started as? [String: Any])?["pid"] as? Int else {
            throw ForbcError(.hypervisor, "the guest agent of '\(domain)' started '\(program)' without a pid")
        }
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let status = try agent(domain, "guest-exec-status", ["pid": pid]) as? [String: Any] ?? [:]
            if status["exited"] as? Bool == true { return Self.exit(status) }
            Thread.sleep(forTimeInterval: 0.2)
        }
        // The agent has no command to end what it started: a `kill` of its own, best effort, so that a hung
        // workload does not go on loading the guest.
        _ = try? agent(domain, "guest-exec", ["path": "kill", "arg": ["-KILL", String(pid)]])
        return GuestExit(timedOut: true)
    }

    /// `guest-exec`'s arguments. The agent gives a child its `env` *instead of* its own environment (no `PATH`,
    /// no `HOME`: a Python found by the agent's `PATH` then cannot even find its own library), so the variables
    /// are added over the agent's environment as they are over forbc's on the host: none sends no `env`, some run
    /// the program through `env -- NAME=VALUE…` (a program it cannot find is then env's exit 127 and its words, not
    /// the agent's error).
    static func execArguments(_ arguments: [String], environment: [String: String]) -> [String: Any] {
        let assignments = environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        let argv = assignments.isEmpty ? arguments : ["env", "--"] + assignments + arguments
        return ["path": argv[0], "arg": Array(argv.dropFirst()), "capture-output": true]
    }

    /// A finished `guest-exec-status` reply as forbc's.
    static func exit(_ status: [String: Any]) -> GuestExit {
        func text(_ key: String) -> String {
            (status[key] as? String).flatMap { Data(base64Encoded: $0) }.map { String(decoding: $0, as: UTF8.self) }
                ?? ""
        }
        return GuestExit(
            exitCode: (status["exitcode"] as? Int).map(Int32.init), signal: (status["signal"] as? Int).map(Int32.init),
            stdout: text("out-data"), stderr: text("err-data"))
    }

    public func writeFile(domain: String, path: String, contents: Data) throws {
        guard let handle = try agent(domain, "guest-file-open", ["path": path, "mode": "w"]) as? Int else {
            throw ForbcError(.hypervisor, "the guest agent of '\(domain)' did not open '\(path)'")
        }
        defer { closeFile(domain, handle) }
        // guest-file-write takes base64; keep each call well under the agent's message limit.
        var offset = 0
        repeat {
            let chunk = contents[offset..<min(contents.count, offset + 48 * 1024)]
            _ = try agent(domain, "guest-file-write", ["handle": handle, "buf-b64": chunk.base64EncodedString()])
            offset += chunk.count
        } while offset < contents.count
    }

    /// `guest-file-close`, tried again twice (0.1 s apart) when it fails: the agent refuses commands for a while
    /// when busy ("Guest agent not available for now"), and a handle it never closes stays open in qemu-ga.
    func closeFile(_ domain: String, _ handle: Int) {
        for attempt in 0..<3 {
            if attempt > 0 { Thread.sleep(forTimeInterval: 0.1) }
            if (try? agent(domain, "guest-file-close", ["handle": handle])) != nil { return }
        }
    }

    /// The most `readFile` reads (forbc reads small files: the co-tenants' ready lines).
    static let readLimit = 16 << 20

    public func readFile(domain: String, path: String) throws -> Data? {
        let opened: Any
        do {
            opened = try agent(domain, "guest-file-open", ["path": path, "mode": "r"])
        } catch let error as ForbcError where error.message.contains("No such file or directory") {
            // qemu-ga: "failed to open file '…' (mode: 'r'): No such file or directory" (strerror, C locale).
            return nil
        }
        guard let handle = opened as? Int else {
            throw ForbcError(.hypervisor, "the guest agent of '\(domain)' did not open '\(path)'")
        }
        defer { closeFile(domain, handle) }
        var contents = Data()
        while true {
            let reply = try agent(domain, "guest-file-read", ["handle": handle, "count": 48 * 1024])
            let chunk = reply as? [String: Any] ?? [:]
            let data = (chunk["buf-b64"] as? String).flatMap { Data(base64Encoded: $0) } ?? Data()
            contents += data
            if chunk["eof"] as? Bool == true || data.isEmpty { return contents }
            guard contents.count <= Self.readLimit else {
                throw ForbcError(
                    .hypervisor, "'\(path)' in '\(domain)' is over \(Self.readLimit >> 20) MiB; forbc reads no more")
            }
        }
    }
}
