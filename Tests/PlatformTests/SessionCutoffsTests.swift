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

    /// Checks on one instance share round trips, yet each sees a cutoff another instance set
    /// before the check began.
    @Test(.enabled(if: RedisServer.available))
    func concurrentChecksEachSeeEveryCutoffSetBeforeThem() async throws {
        let server = try RedisServer()
        let configuration = RedisClient.Configuration(
            url: RedisURL(host: "127.0.0.1", port: server.port),
            connectTimeout: .seconds(5),
            commandTimeout: .seconds(5)
        )
        let (reading, writing) = (RedisClient(configuration, logger: .init(label: "test")), RedisClient(configuration, logger: .init(label: "test")))
        defer {
            reading.shutdown()
            writing.shutdown()
        }
        let checker = RedisSessionCutoffs(redis: reading)
        let setter = RedisSessionCutoffs(redis: writing)
        // Odd users have a cutoff, even ones none; 300 checks at once get each right.
        for user in stride(from: Int64(1), through: 99, by: 2) {
            try await setter.endSessions(of: user, at: Date(timeIntervalSince1970: Double(user)))
        }
        let answers = try await withThrowingTaskGroup(of: (Int64, Int64?).self) { group in
            for check in 0..<300 {
                let user = Int64(check % 100)
                group.addTask { (user, try await checker.cutoff(of: user)) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(answers.count == 300)
        for (user, cutoff) in answers { #expect(cutoff == (user % 2 == 1 ? user * 1000 : nil), "user \(user)") }
        // While checks keep the rounds busy, a cutoff set elsewhere holds for the next check.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask { for _ in 0..<50 { _ = try await checker.cutoff(of: 1_000) } }
            }
            for round in 1...20 {
                let at = Date(timeIntervalSince1970: Double(round))
                try await setter.endSessions(of: 2_000, at: at)
                #expect(try await checker.cutoff(of: 2_000) == Int64(round) * 1000)
            }
            try await group.waitForAll()
        }
    }
}
