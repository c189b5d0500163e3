import Foundation

// The manifest file as the operating system hands it over: the real side of reading, beside the other POSIX I/O.
extension ManifestParser {
    /// The bytes at `path`, read by `BoundedFile` and refused once they pass `maximumBytes`. With `streams`, a pipe or
    /// a terminal (`/dev/stdin`, as a file named on the command line may be) is read as a stream; otherwise anything
    /// but a regular file is refused.
    static func bytes(at path: String, streams: BoundedFile.Streams) throws -> Data {
        do {
            return try BoundedFile.contents(path, limit: maximumBytes, streams: streams, noFollow: false)
        } catch let problem as BoundedFile.Problem {
            let message =
                switch problem {
                case .unreadable(let code): "cannot read '\(path)': \(Errno.describe(code))"
                case .notRegular(let kind):
                    "'\(path)' is \(kind); a manifest is read from a regular file"
                        + (streams == .read ? ", a pipe or a terminal" : " only")
                case .tooLarge(let size): "file is \(size) bytes; a manifest may hold at most \(maximumBytes) bytes"
                case .streamTooLong:
                    "input is over \(maximumBytes) bytes; a manifest may hold at most \(maximumBytes) bytes"
                case .link: "'\(path)' is a symbolic link"  // not asked for here: manifests follow links
                }
            throw DiagnosticsError([Diagnostic(message, at: SourceLocation(file: path, line: 1, column: 1))])
        }
    }
}
