import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

// The manifest file as the operating system hands it over: the real side of reading, beside the other POSIX I/O.
extension ManifestParser {
    /// The bytes at `path`, read as a stream (a pipe or `/dev/stdin` as well as a file), refused once they pass
    /// `maximumBytes`.
    static func bytes(at path: String) throws -> Data {
        let start = SourceLocation(file: path, line: 1, column: 1)
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw DiagnosticsError([Diagnostic("cannot read '\(path)': \(Errno.describe(errno))", at: start)])
        }
        defer { close(descriptor) }
        var status = stat()
        if fstat(descriptor, &status) == 0, status.st_mode & S_IFMT == S_IFREG, Int(status.st_size) > maximumBytes {
            throw DiagnosticsError([
                Diagnostic(
                    "file is \(status.st_size) bytes; a manifest may hold at most \(maximumBytes) bytes", at: start)
            ])
        }
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else {
                throw DiagnosticsError([Diagnostic("cannot read '\(path)': \(Errno.describe(errno))", at: start)])
            }
            if count == 0 { return data }
            data.append(contentsOf: buffer[..<count])
            if data.count > maximumBytes {
                throw DiagnosticsError([
                    Diagnostic(
                        "input is over \(maximumBytes) bytes; a manifest may hold at most \(maximumBytes) bytes",
                        at: start)
                ])
            }
        }
    }
}
