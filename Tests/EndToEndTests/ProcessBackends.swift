import Foundation
import Platform
import TestSupport

/// What a test of several `shop serve` processes shares: a private Redis, a signing key
/// file, new PostgreSQL databases, and the environment that names the first two with the
/// internal API token.
enum ProcessBackends {
    static func with(databases count: Int, _ body: @Sendable ([String: String], [DatabaseURL]) async throws -> Void) async throws {
        let redis = try RedisServer()
        let keys = FileManager.default.temporaryDirectory.appendingPathComponent("keys-\(UUID().uuidString).pem").path
        _ = try SigningKeySet.loadOrCreate(path: keys)
        defer { try? FileManager.default.removeItem(atPath: keys) }
        let shared = [
            "JWT_SIGNING_KEYS_FILE": keys, "REDIS_URL": "redis://127.0.0.1:\(redis.port)", "INTERNAL_API_TOKEN": TestServer.internalToken,
        ]
        defer { redis.stop() }
        try await TestDatabases.withPostgresURLs(count) { try await body(shared, $0) }
    }
}
