import ForbcBench
import ForbcCore
import ForbcTestSupport
import Foundation
import Testing

/// The workload folder is the user's: a FIFO or a huge file among its profiles is a located error at once, never a
/// read that waits for a writer or takes gigabytes.
@Suite("workload profiles read within bounds")
struct WorkloadFileTests {
    @Test("a profile that is a FIFO, or over 1 MiB, is refused with its path; the rest of the folder is not read")
    func refused() throws {
        let folder = makeTemporaryDirectory("workload-files")
        defer { try? FileManager.default.removeItem(at: folder) }
        let fifo = folder.appendingPathComponent("a.yaml").path
        #expect(mkfifo(fifo, 0o644) == 0)
        #expect(
            failureMessage(finishing(within: 10) { try WorkloadProfile.loadAll(in: folder.path) })
                == "refusing '\(fifo)': it is a FIFO; a workload profile is read from a regular file only")
        try FileManager.default.removeItem(atPath: fifo)
        // Sparse: 2 MiB that no disk holds, refused by its size before a byte is read.
        let big = folder.appendingPathComponent("b.yaml").path
        #expect(FileManager.default.createFile(atPath: big, contents: nil) && truncate(big, 2 << 20) == 0)
        #expect(
            failureMessage(finishing(within: 10) { try WorkloadProfile.load(big) })
                == "refusing '\(big)': it is 2097152 bytes; a workload profile may hold at most 1 MiB")
    }
}
