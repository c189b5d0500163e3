import ForbcCore
import Foundation

extension BenchRunner {
    /// A domain's copy of a workload folder: where it is in the guest, or why it could not be made.
    enum Staged: Sendable, Equatable {
        case copied(String)
        case failed(String)
    }

    /// The most a workload folder copied into a guest may hold (its files go through the agent in 48 KiB chunks).
    static let stagingLimit = 32 << 20

    /// The guest folder of one run's files: the workload folders' copies and the co-tenants' release folders.
    static func guestRunFolder(_ runID: String) -> String { "/tmp/forbc-\(runID)" }

    /// Where a run keeps its copy of the host folder `directory` in a guest: its name and a hash of its path (two
    /// folders with one name do not share a copy).
    static func guestFolder(_ directory: String, runID: String) -> String {
        var hash: UInt32 = 2_166_136_261  // FNV-1a
        for byte in directory.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        let name = URL(fileURLWithPath: directory).lastPathComponent.filter {
            $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0))
        }
        return "\(guestRunFolder(runID))/\(name.isEmpty ? "workloads" : name)-\(String(format: "%08x", hash))"
    }

    /// This run's copy of the workload folder `directory` in `domain`: made the first time a tenant of the run
    /// needs it there (`mkdir -p`, then each of the folder's files by guest-file-write; subfolders and hidden
    /// files stay out), the same copy (or the same failure) for every later launch and workload of the run.
    func staged(_ directory: String, in domain: String, runID: String, agent: any GuestAgentChannel) -> Staged {
        let key = "\(runID)\n\(domain)\n\(directory)"
        var staged = Staged.failed("")
        // Under the lock: co-tenants in one domain start at once, and only the first copies.
        staging.update { cache in
            if let known = cache[key] {
                staged = known
                return
            }
            staged = Self.copy(directory, into: domain, folder: Self.guestFolder(directory, runID: runID), agent)
            cache[key] = staged
        }
        return staged
    }

    static func copy(_ directory: String, into domain: String, folder: String, _ agent: any GuestAgentChannel)
        -> Staged
    {
        let failed = "copying the workload folder \(directory) into '\(domain)' failed"
        do {
            let names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted().filter { name in
                var isFolder: ObjCBool = false
                return !name.hasPrefix(".")
                    && FileManager.default.fileExists(atPath: "\(directory)/\(name)", isDirectory: &isFolder)
                    && !isFolder.boolValue
            }
            try agent.makeDirectory(domain: domain, path: folder)
            var total = 0
            for name in names {
                // What is left of the limit bounds each read: a huge file or a device is never read whole.
                let path = "\(directory)/\(name)"
                let contents: Data
                do {
                    contents = try BoundedFile.contents(
                        path, limit: stagingLimit - total, streams: .refused, noFollow: false)
                } catch BoundedFile.Problem.tooLarge, BoundedFile.Problem.streamTooLong {
                    return .failed("\(failed): its files hold over \(stagingLimit >> 20) MiB; keep data sets out of it")
                } catch let error as BoundedFile.Problem {
                    let problem = BoundedFile.failure(
                        error, path: path, limit: stagingLimit, what: "a file of the workload folder")
                    return .failed("\(failed): \(problem.message)")
                }
                total += contents.count
                try agent.writeFile(domain: domain, path: "\(folder)/\(name)", contents: contents)
            }
        } catch let error as ForbcError {
            return .failed("\(failed): \(error.message)")
        } catch {
            return .failed("\(failed): \(error.localizedDescription)")
        }
        return .copied(folder)
    }

    /// The domains of a job's tenants whose agent stopped answering in an earlier launch of this run and has not
    /// answered since, with the words of that failure: nothing more is launched there (each command would wait
    /// for it). A mark the channel kept from before this run does not count: the run's first launch tries.
    func silentDomains(_ job: Job) -> [String: String] {
        guard let agent else { return [:] }
        var silent: [String: String] = [:]
        for domain in Set(job.tenants.compactMap { $0.domain?.name })
        where unanswered.value.contains("\(job.runID)\n\(domain)") {
            silent[domain] = agent.notAnswering(domain: domain)
        }
        return silent
    }

    /// Notes, after a launch, the job's domains whose agent is not answering now.
    func noteSilentDomains(_ job: Job) {
        guard let agent else { return }
        for domain in Set(job.tenants.compactMap { $0.domain?.name }) where agent.notAnswering(domain: domain) != nil {
            unanswered.update { _ = $0.insert("\(job.runID)\n\(domain)") }
        }
    }

    /// Removes a run's folder from every domain it copied into (best effort, 10 s at most each, a failure said on
    /// `progress`: a guest may be gone by now, or its agent may have stopped answering).
    func unstage(_ runID: String, progress: (String) -> Void = { _ in }) {
        guard let agent else { return }
        let domains = Set(
            staging.value.keys.compactMap { key -> String? in
                let parts = key.split(separator: "\n", omittingEmptySubsequences: false)
                return parts.count == 3 && parts[0] == runID ? String(parts[1]) : nil
            })
        for domain in domains.sorted() {
            let folder = Self.guestRunFolder(runID)
            let start = Date()
            let failure: String?
            do {
                let exit = try agent.exec(domain: domain, ["rm", "-rf", "--", folder], environment: [:], timeout: 10)
                let words = (exit.stderr + exit.stdout).trimmingCharacters(in: .whitespacesAndNewlines)
                failure = exit.exitCode == 0 ? nil : exit.timedOut ? "timed out" : "rm said: \(words)"
            } catch {
                failure = (error as? ForbcError)?.message ?? "\(error)"
            }
            if let failure {
                let seconds = String(format: "%.1f", Date().timeIntervalSince(start))
                progress("removing \(folder) from '\(domain)' failed after \(seconds) s: \(failure)")
            }
        }
    }
}
