import Foundation
public import Logging
public import Redis
public import ServiceLifecycle

/// The bus for many processes: one Redis stream per event type, a consumer group per
/// consuming service, `XACK` after handling, `XAUTOCLAIM` of what a dead consumer left
/// pending, and a dead-letter stream after too many attempts. Streams are trimmed to
/// about `maxLength` entries each.
public final class RedisStreamsEventBus: EventBus {
    public let redis: RedisClient
    let url: RedisURL
    let prefix: String
    let maxLength: Int
    let logger: Logger
    let metrics: ShopMetrics?

    public init(
        redis: RedisClient,
        url: RedisURL,
        prefix: String = "shop:events",
        maxLength: Int = 100_000,
        logger: Logger,
        metrics: ShopMetrics? = nil
    ) {
        self.metrics = metrics
        self.redis = redis
        self.url = url
        self.prefix = prefix
        self.maxLength = maxLength
        self.logger = logger
    }

    /// The stream of one event type.
    public func stream(for type: String) -> String { "\(prefix):\(type)" }

    /// Where events that failed every attempt go, with the reason.
    public var deadLetterStream: String { "\(prefix):dead-letters" }

    public func publish(_ events: [EventEnvelope]) async throws {
        let commands: [[RESPArgument]] = try events.map { event in
            [
                "XADD", RESPArgument(stream(for: event.type)), "MAXLEN", "~", RESPArgument(maxLength), "*",
                "event", RESPArgument(String(decoding: try event.encoded(), as: UTF8.self)),
            ]
        }
        // One round trip for the batch; the order within it holds.
        for reply in try await redis.pipeline(commands) where reply.string == nil {
            throw RedisError.unexpectedReply("XADD \(reply)")
        }
    }

    /// The service that feeds `consumer` from its streams until shutdown.
    ///
    /// - Parameters:
    ///   - claimAfter: how long a delivered, unacknowledged entry waits before another
    ///     consumer of the group takes it over (its consumer died, or its handler failed
    ///     and it is retried).
    public func consumerService(
        _ consumer: EventConsumer,
        claimAfter: Duration = .seconds(30),
        block: Duration = .seconds(1)
    ) -> any Service {
        RedisStreamConsumer(bus: self, consumer: consumer, claimAfter: claimAfter, block: block)
    }

    /// Puts a dead letter's event back on its stream (every group sees it again; those
    /// that handled it already skip it) and removes the dead letter.
    public func replay(deadLetterID: String) async throws -> Bool {
        guard let letter = try await redis.streamRange(deadLetterStream, from: deadLetterID, to: deadLetterID, count: 1).first,
            let json = letter.fields["event"]
        else { return false }
        let event = try EventEnvelope(decoding: Data(json.utf8))
        try await publish([event])
        try await redis.streamDelete(deadLetterStream, ids: [deadLetterID])
        return true
    }
}

/// One consumer process of a group: reads new entries, reclaims stale ones, handles
/// each through the consumer's inbox, acknowledges, and dead-letters after
/// `maxAttempts` deliveries.
struct RedisStreamConsumer: Service {
    let bus: RedisStreamsEventBus
    let consumer: EventConsumer
    let claimAfter: Duration
    let block: Duration
    let name = "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(8))"

    var group: String { consumer.name }
    var attemptsKey: String { "\(bus.prefix):attempts:\(consumer.name)" }

    func run() async throws {
        // A blocking read holds its connection: this consumer gets a client of its own.
        let redis = RedisClient(
            .init(url: bus.url, connections: 1, commandTimeout: block + .seconds(2)),
            logger: bus.logger
        )
        defer { redis.shutdown() }
        let streams = consumer.types.sorted().map(bus.stream(for:))
        await cancelWhenGracefulShutdown {
            var groupsReady = false
            var lastClaim = ContinuousClock.now - claimAfter
            while !Task.isCancelled {
                do {
                    if !groupsReady {
                        for stream in streams { try await redis.streamCreateGroup(stream, group: group) }
                        groupsReady = true
                    }
                    if ContinuousClock.now - lastClaim >= claimAfter / 2 {
                        for stream in streams {
                            let claimed = try await redis.streamAutoClaim(
                                stream,
                                group: group,
                                consumer: name,
                                minIdle: claimAfter,
                                count: 32
                            )
                            for entry in claimed.entries { try await handle(entry, from: stream, redis: redis) }
                        }
                        lastClaim = ContinuousClock.now
                    }
                    let batches = try await redis.streamReadGroup(
                        group: group,
                        consumer: name,
                        streams: streams,
                        count: 32,
                        block: block
                    )
                    for batch in batches {
                        for entry in batch.entries { try await handle(entry, from: batch.stream, redis: redis) }
                    }
                } catch {
                    guard !Task.isCancelled else { return }
                    // A Redis restarted without its data lost the groups: make them again
                    // (from the start of whatever the streams hold now).
                    if case RedisError.server(let message) = error, message.hasPrefix("NOGROUP") { groupsReady = false }
                    bus.logger.warning("event consumer failed; retrying", metadata: ["consumer": "\(group)", "error": "\(error)"])
                    try? await Task.sleep(for: .milliseconds(500))
                }
            }
        }
    }

    /// One delivery: applied once through the inbox and acknowledged; a failure leaves
    /// it pending, to be reclaimed and retried after `claimAfter`, until it is dead.
    private func handle(_ entry: StreamEntry, from stream: String, redis: RedisClient) async throws {
        let delivery = "\(stream)/\(entry.id)"
        guard let json = entry.fields["event"], let event = try? EventEnvelope(decoding: Data(json.utf8)) else {
            try await deadLetter(entry, from: stream, json: entry.fields["event"] ?? "", reason: "not a CloudEvents entry", attempts: 1, redis: redis)
            return
        }
        let attempts = try await redis.send("HINCRBY", RESPArgument(attemptsKey), RESPArgument(delivery), 1).int ?? 1
        do {
            let applied = try await Inbox.handle(event, by: consumer, now: Date())
            bus.metrics?.recordDelivery(consumer: group, outcome: applied ? "handled" : "duplicate")
        } catch {
            guard attempts >= consumer.maxAttempts else {
                bus.metrics?.recordDelivery(consumer: group, outcome: "retried")
                bus.logger.warning(
                    "event handler failed; will retry",
                    metadata: ["consumer": "\(group)", "event_id": "\(event.id)", "attempt": "\(attempts)", "error": "\(error)"]
                )
                return
            }
            bus.metrics?.recordDelivery(consumer: group, outcome: "dead_lettered")
            bus.logger.error(
                "event dead-lettered",
                metadata: ["consumer": "\(group)", "event_id": "\(event.id)", "error": "\(error)"]
            )
            try await deadLetter(entry, from: stream, json: json, reason: "\(error)", attempts: attempts, redis: redis)
            return
        }
        try await redis.streamAcknowledge(stream, group: group, ids: [entry.id])
        try await redis.send("HDEL", RESPArgument(attemptsKey), RESPArgument(delivery))
    }

    private func deadLetter(
        _ entry: StreamEntry,
        from stream: String,
        json: String,
        reason: String,
        attempts: Int,
        redis: RedisClient
    ) async throws {
        _ = try await redis.streamAdd(
            bus.deadLetterStream,
            fields: [
                ("consumer", group), ("stream", stream), ("entry", entry.id), ("event", json),
                ("reason", String(reason.prefix(2000))), ("attempts", String(attempts)),
            ],
            maxLength: bus.maxLength
        )
        try await redis.streamAcknowledge(stream, group: group, ids: [entry.id])
        try await redis.send("HDEL", RESPArgument(attemptsKey), RESPArgument("\(stream)/\(entry.id)"))
    }
}
