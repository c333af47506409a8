import Foundation
import Platform
import Redis
import TestSupport
import Testing

/// Both session-cutoff stores with one test: a cutoff only moves forward.
@Suite struct SessionCutoffsTests {
    enum Kind: String, CaseIterable, Sendable {
        case memory
        case redis
    }

    static var kinds: [Kind] {
        RedisServer.available ? Kind.allCases : Backends.skipping("redis-server", in: "the Redis cases of \(#fileID)", [.memory])
    }

    @Test(arguments: kinds)
    func aCutoffOnlyMovesForwardAndRefusesOlderTokens(_ kind: Kind) async throws {
        let redisServer = kind == .redis ? try RedisServer() : nil
        // Generous timeouts: a loaded test machine may be slow to answer the first call.
        let client = redisServer.map {
            RedisClient(
                .init(url: RedisURL(host: "127.0.0.1", port: $0.port), connectTimeout: .seconds(5), commandTimeout: .seconds(5)),
                logger: .init(label: "test")
            )
        }
        defer { client?.shutdown() }
        let cutoffs: any SessionCutoffs = client.map { RedisSessionCutoffs(redis: $0) } ?? InMemorySessionCutoffs()
        let later = Date(timeIntervalSince1970: 1_800_000_000.250)
        #expect(try await cutoffs.cutoff(of: 7) == nil)
        try await cutoffs.endSessions(of: 7, at: later)
        // A late delivery of an earlier ending (a retried event, a replay).
        try await cutoffs.endSessions(of: 7, at: later.addingTimeInterval(-60))
        #expect(try await cutoffs.cutoff(of: 7) == 1_800_000_000_250)
        #expect(try await cutoffs.isRevoked(Principal(userID: 7, role: .admin, tokenID: "a", issuedAt: 1_800_000_000.249)))
        #expect(try await !cutoffs.isRevoked(Principal(userID: 7, role: .admin, tokenID: "b", issuedAt: 1_800_000_000.250)))
        #expect(try await !cutoffs.isRevoked(Principal(userID: 8, role: .admin, tokenID: "c", issuedAt: 0)), "another user is untouched")
    }
}
