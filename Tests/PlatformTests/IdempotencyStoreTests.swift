import Foundation
import Platform
import TestSupport
import Testing

@Suite struct IdempotencyStoreTests {
    private static let t0 = Date(microsecondsSince1970: 1_764_065_700_000_000)
    private static let response = IdempotencyStore.StoredResponse(status: 201, headers: ["Content-Type": "application/json"], body: Array("{}".utf8))

    private func withStore(_ kind: DatabaseKind, _ body: @Sendable (IdempotencyStore) async throws -> Void) async throws {
        try await TestDatabases.with(kind) { (database: any Database) async throws in
            try await Migrator([IdempotencyStore.migration(1)], logger: TestDatabases.logger).migrate(database)
            try await body(IdempotencyStore(database: database, retention: .seconds(3600), abandonedAfter: .seconds(60)))
        }
    }

    @Test(arguments: TestDatabases.kinds())
    func aKeyIsClaimedOnceThenReplayed(_ kind: DatabaseKind) async throws {
        try await withStore(kind) { store in
            #expect(try await store.claim(scope: "POST /x", key: "k", fingerprint: "f", now: Self.t0) == .claimed)
            #expect(try await store.claim(scope: "POST /x", key: "k", fingerprint: "f", now: Self.t0) == .inProgress)
            #expect(try await store.claim(scope: "POST /x", key: "k", fingerprint: "other", now: Self.t0) == .mismatch)
            #expect(try await store.claim(scope: "POST /y", key: "k", fingerprint: "f", now: Self.t0) == .claimed)
            try await store.complete(scope: "POST /x", key: "k", with: Self.response)
            #expect(try await store.claim(scope: "POST /x", key: "k", fingerprint: "f", now: Self.t0) == .completed(Self.response))
        }
    }

    @Test(arguments: TestDatabases.kinds())
    func anAbandonedClaimCanBeTakenOverAndAReleasedOneRetried(_ kind: DatabaseKind) async throws {
        try await withStore(kind) { store in
            #expect(try await store.claim(scope: "s", key: "dead", fingerprint: "f", now: Self.t0) == .claimed)
            #expect(try await store.claim(scope: "s", key: "dead", fingerprint: "f", now: Self.t0.addingTimeInterval(59)) == .inProgress)
            #expect(try await store.claim(scope: "s", key: "dead", fingerprint: "f", now: Self.t0.addingTimeInterval(61)) == .claimed)
            #expect(try await store.claim(scope: "s", key: "failed", fingerprint: "f", now: Self.t0) == .claimed)
            try await store.release(scope: "s", key: "failed")
            #expect(try await store.claim(scope: "s", key: "failed", fingerprint: "f", now: Self.t0) == .claimed)
        }
    }

    @Test(arguments: TestDatabases.kinds())
    func completedResponsesExpireAfterTheirRetention(_ kind: DatabaseKind) async throws {
        try await withStore(kind) { store in
            _ = try await store.claim(scope: "s", key: "old", fingerprint: "f", now: Self.t0)
            try await store.complete(scope: "s", key: "old", with: Self.response)
            _ = try await store.claim(scope: "s", key: "new", fingerprint: "f", now: Self.t0.addingTimeInterval(3000))
            #expect(try await store.purge(now: Self.t0.addingTimeInterval(3601)) == 1)
            #expect(try await store.claim(scope: "s", key: "old", fingerprint: "g", now: Self.t0.addingTimeInterval(3601)) == .claimed)
        }
    }
}
