import ForbcBench
import Foundation
import Testing

@Suite("the results store's path")
struct ResultStorePathTests {
    @Test("a bare file name ('--db results.sqlite') is a store in the working directory")
    func bareName() throws {
        let name = "forbc-store-\(UUID().uuidString.prefix(8)).sqlite"
        let file = FileManager.default.currentDirectoryPath + "/" + name
        defer {
            for suffix in ["", "-wal", "-shm", "-journal"] {
                try? FileManager.default.removeItem(atPath: file + suffix)
            }
        }
        let store = try ResultStore(path: name)
        #expect(try store.all().isEmpty)
        #expect(FileManager.default.fileExists(atPath: file))
    }
}
