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

    public var valueList: [Double] { (try? JSONDecoder().decode([Double].self, from: Data(values.utf8))) ?? [] }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// The results store: SQLite through GRDB.
public final class ResultStore: @unchecked Sendable {
    let queue: DatabaseQueue
    public let path: String

    public init(path: String) throws {
        self.path = path
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
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
        try migrator.migrate(queue)
    }

    public func insert(_ results: [BenchResult]) throws {
        try queue.write { db in
            for var result in results { try result.insert(db) }
        }
    }

    public func all() throws -> [BenchResult] {
        try queue.read { db in try BenchResult.order(Column("id")).fetchAll(db) }
    }

    public func results(topology: String) throws -> [BenchResult] {
        try queue.read { db in try BenchResult.filter(Column("topology") == topology).order(Column("id")).fetchAll(db) }
    }
}
