import Foundation
import GRDB

/// One summarized measurement with its provenance: a row of the results store.
public struct BenchResult: Sendable, Codable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "result"

    public var id: Int64?
    public var runID: String
    public var time: Date
    /// What was measured: the partitioning topology (default "MANIFEST/SUITE").
    public var topology: String
    public var suite: String
    public var workload: String
    public var workloadVersion: Int
    public var metric: String
    public var unit: String
    public var better: String
    /// The partition (or "host"), with "#n" for the n-th co-tenant copy; "(aggregate)" sums the tenants.
    public var tenant: String
    public var tenants: Int
    public var cotenants: String
    public var host: String
    public var gpuModel: String?
    public var gpuUUID: String?
    public var driver: String?
    public var partitionKind: String?
    public var partitionProfile: String?
    /// The domain the workload ran in (through its guest agent), its vCPUs and memory; nil on the host.
    public var domain: String? = nil
    public var domainVCPUs: Int? = nil
    public var domainMemoryMiB: Int? = nil
    /// How it was timed (see `Timing`): "device-events", "host-clock", "wall-window", or "unknown" for results
    /// stored before forbc recorded it; nil only in JSON lines that predate it (the importer fills it in).
    public var timing: String? = nil
    public var manifestHash: String
    public var forbcVersion: String
    /// "ok" or "failed".
    public var status: String
    public var failure: String?
    /// JSON arrays: every value, the outlier indices, the logs.
    public var values: String
    public var outliers: String
    public var logs: String
    public var median: Double?
    public var mad: Double?
    public var cv: Double?
    public var ciLow: Double?
    public var ciHigh: Double?
    public var fairness: Double?
    /// "forbc", or where an imported result came from.
    public var source: String
    /// JSON array: how many of `values` each launch gave, in order (nil for results stored before it existed:
    /// see `launches`).
    public var launchSizes: String? = nil
    /// JSON array of the stability warnings (see `Stability`), recomputed from the values on run and import.
    public var warnings: String? = nil
    /// SHA-1 (16 hex digits) of what was measured and where (everything but the summaries, timing, `id`, `source`):
    /// importing the same result twice stores it once.
    public var contentHash: String? = nil

    public var valueList: [Double] { (try? JSONDecoder().decode([Double].self, from: Data(values.utf8))) ?? [] }

    /// The stored warnings.
    public var warningList: [String] {
        warnings.flatMap { try? JSONDecoder().decode([String].self, from: Data($0.utf8)) } ?? []
    }

    /// The values grouped by the launch they came from. From `launchSizes` when recorded; for older results
    /// inferred from the logs (one log a launch): an equal split when no launch failed and the values divide
    /// evenly; nil when the structure is unknown (the values are then treated as independent, and say so).
    public var launches: [[Double]]? {
        let values = valueList
        var sizes = launchSizes.flatMap { try? JSONDecoder().decode([Int].self, from: Data($0.utf8)) }
        if sizes == nil, tenant != "(aggregate)", failure == nil,
            let logs = try? JSONDecoder().decode([String].self, from: Data(logs.utf8)), !logs.isEmpty,
            values.count % logs.count == 0
        {
            sizes = Array(repeating: values.count / logs.count, count: logs.count)
        }
        guard let sizes, sizes.reduce(0, +) == values.count, sizes.allSatisfy({ $0 >= 0 }) else { return nil }
        var launches: [[Double]] = []
        var start = 0
        for size in sizes {
            launches.append(Array(values[start..<start + size]))
            start += size
        }
        return launches
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// The results store: SQLite through GRDB.
public final class ResultStore: @unchecked Sendable {
    let queue: DatabaseQueue
    public let path: String

    public init(path: String) throws {
        self.path = path
        // A bare file name ("--db results.sqlite") lives in the working directory: it has no folder to create.
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        }
        queue = try DatabaseQueue(path: path)
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.create(table: "result") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("runID", .text).notNull().indexed()
                t.column("time", .datetime).notNull()
                t.column("topology", .text).notNull().indexed()
                t.column("suite", .text).notNull()
                t.column("workload", .text).notNull()
                t.column("workloadVersion", .integer).notNull()
                t.column("metric", .text).notNull()
                t.column("unit", .text).notNull()
                t.column("better", .text).notNull()
                t.column("tenant", .text).notNull()
                t.column("tenants", .integer).notNull()
                t.column("cotenants", .text).notNull()
                t.column("host", .text).notNull()
                t.column("gpuModel", .text)
                t.column("gpuUUID", .text)
                t.column("driver", .text)
                t.column("partitionKind", .text)
                t.column("partitionProfile", .text)
                t.column("manifestHash", .text).notNull()
                t.column("forbcVersion", .text).notNull()
                t.column("status", .text).notNull()
                t.column("failure", .text)
                t.column("values", .text).notNull()
                t.column("outliers", .text).notNull()
                t.column("logs", .text).notNull()
                t.column("median", .double)
                t.column("mad", .double)
                t.column("cv", .double)
                t.column("ciLow", .double)
                t.column("ciHigh", .double)
                t.column("fairness", .double)
                t.column("source", .text).notNull()
            }
        }
        Self.registerLaterMigrations(&migrator)
        try migrator.migrate(queue)
    }

    /// The migrations after the first: each adds what a later forbc records.
    static func registerLaterMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v2: launches, warnings, content hash") { db in
            try db.alter(table: "result") { t in
                t.add(column: "launchSizes", .text)
                t.add(column: "warnings", .text)
                t.add(column: "contentHash", .text)
            }
            try db.create(index: "result_contentHash", on: "result", columns: ["contentHash"], unique: true)
        }
        migrator.registerMigration("v3: the domain a result was measured in") { db in
            try db.alter(table: "result") { t in
                t.add(column: "domain", .text)
                t.add(column: "domainVCPUs", .integer)
                t.add(column: "domainMemoryMiB", .integer)
            }
        }
        migrator.registerMigration("v4: how a result was timed") { db in
            try db.alter(table: "result") { t in t.add(column: "timing", .text) }
            // Derived from the data where it tells (see `Timing.inferred`), else "unknown".
            try db.execute(
                sql: "UPDATE result SET timing = CASE WHEN tenants > 1 AND time >= ? THEN ? ELSE ? END",
                arguments: [Timing.windowsSince, Timing.wallWindow, Timing.unknown])
        }
    }

    /// Stores the results whose content hash is not stored yet (each gets its hash); returns how many were
    /// stored and how many were already there.
    @discardableResult
    public func insert(_ results: [BenchResult]) throws -> (inserted: Int, duplicates: Int) {
        try queue.write { db in
            var inserted = 0
            var duplicates = 0
            for var result in results {
                result.timing = result.timing ?? Timing.inferred(result)
                let hash = result.contentHash ?? Summaries.contentHash(result)
                result.contentHash = hash
                if try BenchResult.filter(Column("contentHash") == hash).fetchCount(db) > 0 {
                    duplicates += 1
                    continue
                }
                try result.insert(db)
                inserted += 1
            }
            return (inserted, duplicates)
        }
    }

    public func all() throws -> [BenchResult] {
        try queue.read { db in try BenchResult.order(Column("id")).fetchAll(db) }
    }

    public func results(topology: String) throws -> [BenchResult] {
        try queue.read { db in try BenchResult.filter(Column("topology") == topology).order(Column("id")).fetchAll(db) }
    }
}
