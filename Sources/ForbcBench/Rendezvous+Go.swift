import ForbcCore
import Foundation

extension Rendezvous {
    /// What writing `go` came to: where it was written, and what did not go as planned.
    struct Go {
        var written: [String?] = []
        var notes: [String] = []
        /// Seconds after the first try at which `go` was written, per location.
        var writtenAfter: [String?: Double] = [:]

        /// The locations whose tenants saw `go` later than those of another location by more than `tolerance`
        /// seconds (a retried write), and by how much: their windows are not their co-tenants'.
        func late(tolerance: Double = 0.1) -> [String?: Double] {
            guard writtenAfter.count > 1, let first = writtenAfter.values.min() else { return [:] }
            return writtenAfter.compactMapValues { $0 - first > tolerance ? $0 - first : nil }
        }

        /// The progress line once `go` is written (or could not be, anywhere).
        func line(after: Double, ready: Int, of count: Int) -> String {
            let places = written.map { Rendezvous.name($0) }.joined(separator: ", ")
            let gone = notes.isEmpty ? "" : "; " + notes.joined(separator: "; ")
            return String(format: "release: after %.3f s (%d of %d ready), ", after, ready, count)
                + (written.isEmpty ? "'go' written nowhere" : "'go' written in \(places)") + gone
        }
    }

    /// Writes `go` in every location. A write can fail for a while (a guest agent busy with the tenants' own
    /// commands: "Guest agent not available for now", "cannot acquire state change lock"): where one fails and a
    /// tenant there is waiting, it is tried again every `poll.failing` seconds until it is written, every tenant
    /// there has ended, or `goDeadline` seconds have passed. One that never got written is reported at once
    /// (`progress`: where, the path, the error), and the tenants there are stopped (`stop`).
    func writeGo(at: Double, ready: [Int: Double], ended: () -> [Bool], progress: (String) -> Void) -> Go {
        let start = Date()
        var go = Go()
        var pending = locations
        var tries: [String?: (count: Int, first: String)] = [:]
        while !pending.isEmpty {
            var failing: [String?] = []
            for location in pending {
                do {
                    try writeGo(location, at: at)
                    go.written.append(location)
                    go.writtenAfter[location] = Date().timeIntervalSince(start)
                    if let failed = tries[location] {
                        let seconds = String(format: "%.2f", Date().timeIntervalSince(start))
                        go.notes.append(
                            "'go' in \(Self.name(location)) was written at try \(failed.count + 1), \(seconds) s after "
                                + "the first failed: \(failed.first)")
                    }
                } catch {
                    let failed = (count: (tries[location]?.count ?? 0) + 1, first: tries[location]?.first ?? "")
                    tries[location] = (failed.count, failed.first.isEmpty ? Self.words(error) : failed.first)
                    let here = tenants.indices.filter {
                        tenants[$0].unreachable == nil && tenants[$0].domain?.name == location
                    }
                    // Nobody waits where no tenant got ready (the guest's folder may not even exist).
                    guard here.contains(where: { ready[$0] != nil }) else { continue }
                    let done = ended()
                    if here.allSatisfy({ done[$0] }) {
                        go.notes.append("'go' in \(Self.name(location)) was not written, and its tenants have ended")
                    } else if Date().timeIntervalSince(start) >= goDeadline {
                        let note = gaveUp(location, tries: failed.count, since: start, error: Self.words(error))
                        progress("release: " + note)
                        go.notes.append(note)
                    } else {
                        failing.append(location)
                    }
                }
            }
            pending = failing
            if !pending.isEmpty { Thread.sleep(forTimeInterval: poll.failing) }
        }
        return go
    }

    /// The account of a `go` that could not be written, once its tenants there are stopped.
    func gaveUp(_ location: String?, tries: Int, since start: Date, error: String) -> String {
        let path = location == nil ? hostFolder.appendingPathComponent("go").path : guestFolder + "/go"
        let seconds = String(format: "%.1f", Date().timeIntervalSince(start))
        return "writing 'go' (\(path)) in \(Self.name(location)) failed \(tries) time(s) over \(seconds) s, the last: "
            + "\(error); " + stop(location)
    }

    /// Ends the tenants of a location where `go` could not be written, so that none goes on waiting for it; says
    /// what became of them. The guest agent has no command to end what guest-exec started: in a guest it runs
    /// `pkill -KILL -f` of the launch's release folder, which only those tenants' arguments name. On the host (or
    /// where that fails) each ends by itself when its wait for `go` ends (`{sync_timeout}`, the profile's timeout
    /// and `goDeadline`).
    func stop(_ location: String?) -> String {
        let byItself = "they end by themselves when their wait for 'go' ends ('{sync_timeout}')"
        guard let domain = location, let agent else { return byItself }
        let pattern = Self.literal(guestFolder) + "( |$)"
        do {
            let exit = try agent.exec(domain: domain, ["pkill", "-KILL", "-f", pattern], environment: [:], timeout: 10)
            switch exit.exitCode {
            case 0: return "its tenants there were killed (pkill -KILL -f '\(pattern)')"
            case 1: return "none of its tenants there was still running"
            default:
                let words = (exit.stderr + exit.stdout).trimmingCharacters(in: .whitespacesAndNewlines)
                return "pkill in '\(domain)' failed (\(exit.timedOut ? "timed out" : words)); " + byItself
            }
        } catch {
            return "pkill in '\(domain)' failed: \(Self.words(error)); " + byItself
        }
    }

    /// `text` as a POSIX extended regular expression that matches only itself (pkill's pattern).
    static func literal(_ text: String) -> String {
        text.map { "\\^$.|?*+()[]{}".contains($0) ? "\\\($0)" : String($0) }.joined()
    }

    func writeGo(_ location: String?, at: Double) throws {
        let contents = Data(String(format: "%.6f\n", at).utf8)
        if let domain = location {
            guard let agent else { return }
            do {
                try agent.writeFile(domain: domain, path: guestFolder + "/go", contents: contents)
            } catch {
                // A write is three agent commands (open, write, close) and an answer can be lost after the agent
                // carried the command out: what the file holds decides (a tenant starts only on a whole line).
                if (try? agent.readFile(domain: domain, path: guestFolder + "/go")) == contents { return }
                throw error
            }
        } else {
            try contents.write(to: hostFolder.appendingPathComponent("go"), options: .atomic)
        }
    }
}
