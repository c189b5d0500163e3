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
    public func out(_ text: String) { lock.withLock { writeOut(Self.line(text)) } }
    /// A diagnostic or progress line on stderr.
    public func err(_ text: String) { lock.withLock { writeErr(Self.line(text)) } }

    static func line(_ text: String) -> String {
        let shown = visible(text)
        return shown.hasSuffix("\n") ? shown : shown + "\n"
    }

    /// `text` with the characters a terminal acts on instead of showing (C0 controls other than newline and tab,
    /// DEL, C1 controls) written as JSON writes them (`\u001B`). Names and values forbc prints come from sysfs,
    /// libvirt and files other people control: an escape sequence there must not move the cursor, clear the screen
    /// or retitle the terminal. In JSON the escape means the same character, so a document stays valid and equal.
    static func visible(_ text: String) -> String {
        guard text.utf8.indices.contains(where: { hiddenByte(text.utf8, $0) }) else { return text }
        var result = ""
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x0A, 0x09: result.unicodeScalars.append(scalar)
            case 0..<0x20, 0x7F...0x9F:
                let hex = String(scalar.value, radix: 16, uppercase: true)
                result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// Whether the UTF-8 byte at `index` starts such a character (C1 controls are 0xC2 0x80…0x9F).
    static func hiddenByte(_ bytes: String.UTF8View, _ index: String.UTF8View.Index) -> Bool {
        let byte = bytes[index]
        if byte < 0x20 { return byte != 0x0A && byte != 0x09 }
        if byte == 0x7F { return true }
        guard byte == 0xC2 else { return false }
        let next = bytes.index(after: index)
        return next < bytes.endIndex && (0x80...0x9F).contains(bytes[next])
    }

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
