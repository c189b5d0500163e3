import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where commands write: stdout for people and JSON, stderr for diagnostics and progress. Tests bind a
/// capturing console to run commands in process.
public final class Console: @unchecked Sendable {
    private let lock = NSLock()
    private let writeOut: (String) -> Void
    private let writeErr: (String) -> Void
    /// Whether a person can answer a question on standard input.
    public let isInteractive: Bool
    private let readAnswer: () -> String?

    public init(
        out: @escaping (String) -> Void, err: @escaping (String) -> Void, isInteractive: Bool = false,
        readAnswer: @escaping () -> String? = { nil }
    ) {
        writeOut = out
        writeErr = err
        self.isInteractive = isInteractive
        self.readAnswer = readAnswer
    }

    /// The process's own stdout, stderr and terminal.
    public static let standard = Console(
        out: { FileHandle.standardOutput.write(Data($0.utf8)) },
        err: { FileHandle.standardError.write(Data($0.utf8)) },
        isInteractive: isatty(0) == 1,
        readAnswer: { Swift.readLine() })

    /// A line for people (or a JSON document) on stdout.
    public func out(_ text: String) { lock.withLock { writeOut(text.hasSuffix("\n") ? text : text + "\n") } }
    /// A diagnostic or progress line on stderr.
    public func err(_ text: String) { lock.withLock { writeErr(text.hasSuffix("\n") ? text : text + "\n") } }

    /// Asks a yes/no question on stderr; only a 'y' or 'yes' answer counts.
    public func confirm(_ question: String) -> Bool {
        err(question + " [y/N] ")
        let answer = readAnswer()?.trimmingCharacters(in: .whitespaces).lowercased()
        return answer == "y" || answer == "yes"
    }

    @TaskLocal public static var current: Console = .standard
}

/// A console that keeps what commands write, for tests.
public final class CapturingConsole: @unchecked Sendable {
    private let lock = NSLock()
    private var outText = ""
    private var errText = ""
    public init() {}
    public var stdout: String { lock.withLock { outText } }
    public var stderr: String { lock.withLock { errText } }

    public func console(answer: String? = nil) -> Console {
        Console(
            out: { [self] text in lock.withLock { outText += text } },
            err: { [self] text in lock.withLock { errText += text } },
            isInteractive: answer != nil, readAnswer: { answer })
    }
}
