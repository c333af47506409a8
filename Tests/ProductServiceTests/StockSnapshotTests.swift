import Foundation
import Platform
import SQLKit
import TestSupport
import Testing

@testable import ProductService

/// Stock kept in memory all-in-one: read once, kept until any write of Products ends.
@Suite struct StockSnapshotTests {
    private final class Reads: @unchecked Sendable {
        var ids: [[Int64]] = []
    }

    @Test func keptFiguresLastUntilAWriteEndsAndAReadRacingAWriteIsNotKept() async throws {
        try await TestDatabases.withSQLite { base in
            let database = WriteCountingDatabase(base)
            let snapshot = StockSnapshot(database: database)
            let reads = Reads()
            var stock: [Int64: Int] = [1: 5, 2: 0]
            func read(_ ids: [Int64]) -> [Int64: Int] {
                reads.ids.append(ids)
                return stock.filter { ids.contains($0.key) }
            }

            #expect(try await snapshot.available(of: [1, 2]) { read($0) } == [1: 5, 2: 0])
            #expect(try await snapshot.available(of: [2, 1]) { read($0) } == [1: 5, 2: 0])
            #expect(reads.ids == [[1, 2]], "the second read came from memory")

            // Any write transaction of the database ends what was kept.
            stock[1] = 3
            try await database.transaction { _ in }
            #expect(try await snapshot.available(of: [1, 2]) { read($0) } == [1: 3, 2: 0])
            #expect(reads.ids.count == 2)

            // A write that ends while the figures are read: they are answered, not kept.
            stock[2] = 9
            try await database.transaction { _ in }
            let racing = try await snapshot.available(of: [2]) { ids in
                let answer = read(ids)
                stock[2] = 8
                try await database.transaction { _ in }
                return answer
            }
            #expect(racing == [2: 9])
            #expect(try await snapshot.available(of: [2]) { read($0) } == [2: 8])
            #expect(reads.ids.count == 4)
        }
    }

    @Test func aProductWithoutInventoryIsAskedForAgain() async throws {
        try await TestDatabases.withSQLite { base in
            let snapshot = StockSnapshot(database: WriteCountingDatabase(base))
            let reads = Reads()
            for _ in 0..<2 {
                let answer = try await snapshot.available(of: [42]) { ids in
                    reads.ids.append(ids)
                    return [:]
                }
                #expect(answer.isEmpty)
            }
            #expect(reads.ids.count == 2)
        }
    }
}
