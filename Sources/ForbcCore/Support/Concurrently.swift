import Foundation

/// Independent calls spread over the machine's cores: used where each call only reads (sysfs attributes of one
/// device), so that the order in which they run cannot change an answer.
enum Concurrently {
    /// `body(0) … body(count - 1)` in index order, run on several threads when `concurrently` is set and there are
    /// several calls; throws the error of the lowest index that failed, as a loop stopping at its first error would.
    static func map<T: Sendable>(
        _ count: Int, concurrently: Bool, _ body: @Sendable (Int) throws -> T
    ) throws -> [T] {
        guard concurrently, count > 1 else { return try (0..<count).map(body) }
        let results = Results<T>(count: count)
        DispatchQueue.concurrentPerform(iterations: count) { index in
            results.set(index, Result { try body(index) })
        }
        return try results.all()
    }

    /// The answers as they arrive from the threads.
    private final class Results<T: Sendable>: @unchecked Sendable {
        private let lock = NSLock()
        private var slots: [Result<T, any Error>?]

        init(count: Int) { slots = Array(repeating: nil, count: count) }

        func set(_ index: Int, _ result: Result<T, any Error>) { lock.withLock { slots[index] = result } }

        func all() throws -> [T] {
            try lock.withLock { slots }.map { slot in
                guard let slot else { preconditionFailure("concurrentPerform returned before every call ended") }
                return try slot.get()
            }
        }
    }
}
