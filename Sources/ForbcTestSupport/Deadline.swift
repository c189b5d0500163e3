import Foundation

/// Runs `body` on a thread of its own and waits at most `seconds` for it: its result, or nil when it did not finish.
/// For calls that block for ever when they are wrong (an open(2) of a FIFO without a writer): the test records a
/// failure instead of hanging the suite, and the blocked thread is left behind.
public func finishing<T: Sendable>(within seconds: Double, _ body: @escaping @Sendable () throws -> T)
    -> Result<T, any Error>?
{
    let outcome = Outcome<T>()
    let done = DispatchSemaphore(value: 0)
    Thread {
        outcome.set(Result { try body() })
        done.signal()
    }.start()
    guard done.wait(timeout: .now() + seconds) == .success else { return nil }
    return outcome.get()
}

/// The result handed from the thread to the test (ordered by the semaphore; the lock makes it safe to share).
private final class Outcome<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var result: Result<T, any Error>?

    func set(_ value: Result<T, any Error>) { lock.withLock { result = value } }
    func get() -> Result<T, any Error>? { lock.withLock { result } }
}

/// The message of the error `result` failed with ("" when it did not fail, "did not finish" when it hung).
public func failureMessage<T>(_ result: Result<T, any Error>?) -> String {
    switch result {
    case nil: "did not finish"
    case .success: ""
    case .failure(let error): "\(error)"
    }
}
