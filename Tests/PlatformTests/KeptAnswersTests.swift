import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Platform
import Synchronization
import TestSupport
import Testing

/// Whole answers kept while the database is unwritten, on a real SQLite file.
@Suite struct KeptAnswersTests {
    final class Made: Sendable {
        let count = Mutex(0)
        var value: Int { count.withLock { $0 } }

        func answer(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
            count.withLock { $0 += 1 }
            return Response(status: status, headers: [.link: "<next>"], body: .init(byteBuffer: ByteBuffer(string: text)))
        }
    }

    static func text(_ response: Response) async throws -> String {
        let collector = Collector()
        try await response.body.write(collector)
        return String(decoding: collector.bytes.withLock { $0 }, as: UTF8.self)
    }

    final class Collector: ResponseBodyWriter, Sendable {
        let bytes = Mutex<[UInt8]>([])
        func write(_ buffer: ByteBuffer) async throws { bytes.withLock { $0 += Array(buffer.readableBytesView) } }
        func finish(_ trailingHeaders: HTTPFields?) async throws {}
    }

    @Test func anAnswerIsSentAgainUntilAWriteEndsAndIsNeverKeptPastTheBound() async throws {
        try await TestDatabases.with(.sqlite) { (database: any Database) async throws in
            let counted = WriteCountingDatabase(database)
            let kept = KeptAnswers(database: counted, limit: 10)
            let made = Made()
            for _ in 0..<3 {
                let answer = try await kept.response(for: "/users?page=1") { made.answer("first") }
                #expect(try await Self.text(answer) == "first")
                #expect(answer.headers[.link] == "<next>")
            }
            #expect(made.value == 1, "made once, then sent as kept")
            // A write ends: every kept answer goes, and the next read makes it anew.
            try await counted.transaction { sql in try await sql.raw("SELECT 1").run() }
            #expect(kept.count == 1, "still there until the next read")
            #expect(try await Self.text(try await kept.response(for: "/users?page=1") { made.answer("second") }) == "second")
            #expect(made.value == 2)
            #expect(kept.count == 1)
            // An answer that is not a 200 is never kept.
            _ = try await kept.response(for: "/users?email=x") { made.answer("refused", status: .badRequest) }
            _ = try await kept.response(for: "/users?email=x") { made.answer("refused", status: .badRequest) }
            #expect(made.value == 4)
            // Many queries: at most `limit` kept.
            for page in 0..<40 { _ = try await kept.response(for: "/users?page=\(page)") { made.answer("p\(page)") } }
            #expect(kept.count <= 10)
            kept.removeAll()
            #expect(kept.count == 0)
        }
    }
}
