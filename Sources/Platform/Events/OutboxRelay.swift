public import Foundation
public import Logging
import SQLKit
public import ServiceLifecycle
import Synchronization

/// Moves a service's outbox rows to the bus, in order, and marks them sent.
///
/// It wakes when a transaction that wrote events commits (``EventOutbox/committed()``)
/// and polls as a fallback. On PostgreSQL, where several instances of a service share a
/// database, one relay at a time holds a transaction-scoped advisory lock, so no row is
/// ever published by two relays at once and the order holds. A failed publish leaves
/// the rows unsent and is retried with backoff. Sent rows are purged after `retention`.
public final class OutboxRelay: Service, Sendable {
    let database: any Database
    /// The outbox's name in metrics: its source without the slash, e.g. `orders`.
    let name: String
    let bus: any EventBus
    let signal: RelaySignal
    let logger: Logger
    let batchSize: Int
    let pollInterval: Duration
    let retention: Duration
    let metrics: ShopMetrics?

    public init(
        outbox: EventOutbox,
        bus: any EventBus,
        logger: Logger,
        batchSize: Int = 100,
        pollInterval: Duration = .seconds(1),
        retention: Duration = .seconds(7 * 24 * 3600),
        metrics: ShopMetrics? = nil
    ) {
        self.metrics = metrics
        self.database = outbox.database
        self.name = String(outbox.source.drop { $0 == "/" })
        self.signal = outbox.signal
        self.bus = bus
        self.logger = logger
        self.batchSize = batchSize
        self.pollInterval = pollInterval
        self.retention = retention
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            var backoff = Duration.milliseconds(100)
            var lastPurge = ContinuousClock.now
            var lastLook = ContinuousClock.now - .seconds(60)
            while !Task.isCancelled {
                do {
                    let sent = try await self.relayPending(now: Date())
                    backoff = .milliseconds(100)
                    if let metrics = self.metrics {
                        metrics.eventsRelayed.increment(by: Int64(sent))
                        if ContinuousClock.now - lastLook > .seconds(5) {
                            let backlog = try await self.backlog(now: Date())
                            metrics.recordOutbox(
                                self.name,
                                backlog: backlog.count,
                                lagSeconds: backlog.oldestAge.map { Double($0.components.seconds) } ?? 0
                            )
                            lastLook = ContinuousClock.now
                        }
                    }
                    if ContinuousClock.now - lastPurge > .seconds(3600) {
                        try await self.purge(now: Date())
                        lastPurge = ContinuousClock.now
                    }
                    if sent == self.batchSize { continue }
                } catch {
                    self.metrics?.relayFailures.increment()
                    self.logger.warning("outbox relay failed; retrying", metadata: ["error": "\(error)", "backoff_ms": "\(backoff.milliseconds)"])
                    try? await Task.sleep(for: backoff)
                    backoff = min(backoff * 2, .seconds(30))
                    continue
                }
                await self.signal.wait(upTo: self.pollInterval)
            }
        }
    }

    /// Publishes one batch of unsent rows and marks them sent; returns how many.
    @discardableResult
    public func relayPending(now: Date) async throws -> Int {
        switch database.kind {
        case .postgres:
            // Publish inside the transaction that holds the lock: a crash before the
            // commit leaves the rows unsent, to be published again (consumers dedupe).
            return try await database.transaction { sql in
                let locked =
                    try await sql.raw("SELECT pg_try_advisory_xact_lock(\(bind: Self.lockKey)) AS locked")
                    .first(decodingColumn: "locked", as: Bool.self) ?? false
                guard locked else { return 0 }
                return try await self.publishBatch(in: sql, markWith: sql, now: now)
            }
        case .sqlite:
            // One process owns a SQLite file; in-process consumers may write to the same
            // file, so the batch is read and marked in separate short transactions.
            let rows = try await database.read { sql in try await self.unsent(in: sql) }
            guard !rows.isEmpty else { return 0 }
            try await bus.publish(rows.map(\.event))
            try await database.transaction { sql in try await self.markSent(rows.map(\.id), in: sql, now: now) }
            return rows.count
        }
    }

    /// Removes rows sent longer ago than the retention period.
    public func purge(now: Date) async throws {
        let cutoff = now.addingTimeInterval(-TimeInterval(retention.components.seconds)).microsecondsSince1970
        try await database.transaction { sql in
            try await sql.raw("DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < \(bind: cutoff)").run()
        }
    }

    /// Unsent rows and the age of the oldest: the backlog to watch.
    public func backlog(now: Date) async throws -> (count: Int, oldestAge: Duration?) {
        try await database.read { sql in
            let row = try await sql.raw("SELECT COUNT(*) AS count, MIN(created_at) AS oldest FROM outbox WHERE sent_at IS NULL").first()
            let count = try row?.decode(column: "count", as: Int.self) ?? 0
            let oldest = try row.flatMap { try $0.decodeNil(column: "oldest") ? nil : $0.decode(column: "oldest", as: Int64.self) }
            return (count, oldest.map { .microseconds(now.microsecondsSince1970 - $0) })
        }
    }

    private func publishBatch(in sql: any SQLDatabase, markWith marker: any SQLDatabase, now: Date) async throws -> Int {
        let rows = try await unsent(in: sql)
        guard !rows.isEmpty else { return 0 }
        try await bus.publish(rows.map(\.event))
        try await markSent(rows.map(\.id), in: marker, now: now)
        return rows.count
    }

    private func unsent(in sql: any SQLDatabase) async throws -> [(id: Int64, event: EventEnvelope)] {
        try await sql.raw(
            "SELECT id, envelope FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT \(bind: batchSize)"
        ).all().map { row in
            let envelope = try row.decode(column: "envelope", as: String.self)
            return (try row.decode(column: "id", as: Int64.self), try EventEnvelope(decoding: Data(envelope.utf8)))
        }
    }

    private func markSent(_ ids: [Int64], in sql: any SQLDatabase, now: Date) async throws {
        var query = SQLQueryString("UPDATE outbox SET sent_at = ")
        query.appendInterpolation(bind: now.microsecondsSince1970)
        query.appendInterpolation(unsafeRaw: ", attempts = attempts + 1 WHERE id IN ")
        query.appendBoundList(ids)
        try await sql.raw(query).run()
    }

    /// The advisory lock every relay of one database takes turns on.
    static let lockKey: Int64 = 0x5348_4F50_4F42_5831  // "SHOPOBX1"
}

/// What a service uses to publish: it appends events inside its transactions and says
/// when such a transaction committed, so the relay wakes at once.
public struct EventOutbox: Sendable {
    public let database: any Database
    /// The service's CloudEvents `source`, e.g. `/users`.
    public let source: String
    let signal: RelaySignal

    public init(database: any Database, source: String) {
        self.database = database
        self.source = source
        self.signal = RelaySignal()
    }

    /// Writes `event` into the outbox inside the caller's transaction, with the id of
    /// the request being served, the user acting in it and the current span.
    public func append<Event: DomainEvent>(_ event: Event, at time: Date, in sql: any SQLDatabase) async throws {
        let envelope = try EventEnvelope(
            event,
            source: source,
            time: time,
            requestID: RequestIdentifier.current,
            actorID: RequestActor.userID,
            traceparent: Traces.currentTraceparent()
        )
        try await Outbox.append(envelope, in: sql)
    }

    /// Wakes the relay: call after a transaction that appended events committed.
    public func committed() {
        signal.notify()
    }
}

/// A wake-up call that is never lost: a notify before the wait makes the wait return at once.
final class RelaySignal: Sendable {
    private struct State {
        var pending = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    /// Whether a wake-up waits for the relay (for tests).
    var isPending: Bool { state.withLock { $0.pending } }

    func notify() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiter else {
                state.pending = true
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// Returns on a notify (or one that came before), or after `timeout`.
    func wait(upTo timeout: Duration) async {
        let deadline = Task {
            try? await Task.sleep(for: timeout)
            if !Task.isCancelled { self.notifyTimeout() }
        }
        await withCheckedContinuation { continuation in
            let resumeNow = state.withLock { state -> Bool in
                if state.pending {
                    state.pending = false
                    return true
                }
                state.waiter = continuation
                return false
            }
            if resumeNow { continuation.resume() }
        }
        deadline.cancel()
    }

    private func notifyTimeout() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }
}

extension Duration {
    /// Seconds as a `TimeInterval`.
    public var seconds: TimeInterval {
        let (seconds, attoseconds) = components
        return TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
    }

    var milliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}
