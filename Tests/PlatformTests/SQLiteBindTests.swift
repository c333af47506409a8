import Foundation
import SQLiteKit
import SQLiteNIO
import Testing

@testable import Platform

/// Binds of the common types skip SQLiteKit's encoder; they must come out as it makes them.
@Suite struct SQLiteBindTests {
    @Test func everyBindIsTheValueSQLiteKitsEncoderMakes() throws {
        let encoder = SQLiteDataEncoder()
        let binds: [any Encodable & Sendable] = [
            "text", "", "ünïcødé 🛒", Int64.max, Int64.min, Int64(0), Int.max, -1,
            String?.some("maybe"), String?.none, Int64?.some(7), Int64?.none, Int?.some(3),
            Data([0, 1, 2]), true, false, 2.5, [1, 2, 3], ["a": "b"],
        ]
        for bind in binds {
            #expect(try SQLiteSession.sqliteData(bind, encoder) == encoder.encode(bind), "\(bind)")
        }
    }

    @Test func aBoundValueReadsBackAsItWasWritten() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("binds-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let database = try await SQLiteDatabase.open(path: folder.appendingPathComponent("binds.sqlite").path, logger: .init(label: "test"))
        let row = try await database.transaction { sql in
            try await sql.raw("SELECT \(bind: "café") AS t, \(bind: Int64.min) AS i, \(bind: 42) AS n, \(bind: String?.none) AS z").first()
        }
        #expect(try row?.decode(column: "t", as: String.self) == "café")
        #expect(try row?.decode(column: "i", as: Int64.self) == Int64.min)
        #expect(try row?.decode(column: "n", as: Int.self) == 42)
        #expect(try row?.decodeNil(column: "z") == true)
        try await database.close()
    }
}
