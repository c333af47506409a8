// Events through the whole path: outbox (SQLite), relay, bus, consumer inbox.
// A benchmark harness only: it is not part of the `shop` product.
//
// Environment: BUS (redis | inprocess), REDIS_URL (for redis), DATA_DIR, EVENTS
// (throughput run, default 20000), RATE and SECONDS (latency run, default 200/s for 10 s).
import Foundation
import Logging
import Platform
import Redis
import ServiceLifecycle
import Synchronization

struct Tick: DomainEvent {
    static let type = "bench.tick"
    var number: Int
}

final class Recorder: Sendable {
    let handled = Atomic<Int>(0)
    let latencies = Mutex<[Double]>([])
}

@main
enum EventBench {
    static func main() async throws {
        try await run()
    }
}

func waitUntilHandled(_ count: Int, _ recorder: Recorder) async throws {
    while recorder.handled.load(ordering: .relaxed) < count { try await Task.sleep(for: .milliseconds(5)) }
}

func percentile(_ values: [Double], _ p: Double) -> Double {
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
}

func run() async throws {
    let environment = ProcessInfo.processInfo.environment
    let busKind = environment["BUS"] ?? "redis"
    let directory = environment["DATA_DIR"] ?? "/tmp/event-bench"
    let total = Int(environment["EVENTS"] ?? "20000") ?? 20000
    let rate = Int(environment["RATE"] ?? "200") ?? 200
    let seconds = Int(environment["SECONDS"] ?? "10") ?? 10
    LogSetup.bootstrap(format: .text, level: .warning)
    let logger = Logger(label: "event-bench")

    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let producer = try await SQLiteDatabase.open(path: directory + "/producer.sqlite", logger: logger)
    let consumerDatabase = try await SQLiteDatabase.open(path: directory + "/consumer.sqlite", logger: logger)
    for database in [producer, consumerDatabase] as [any Database] {
        try await Migrator([Outbox.migration(1)], logger: logger).migrate(database)
    }
    let outbox = EventOutbox(database: producer, source: "/bench")
    let recorder = Recorder()
    let consumer = EventConsumer(name: "bench.consumer", types: [Tick.type], database: consumerDatabase) { event, _ in
        recorder.latencies.withLock { $0.append(Date().timeIntervalSince(event.time)) }
        recorder.handled.add(1, ordering: .relaxed)
    }

    var services: [any Service] = []
    var redis: RedisClient?
    let bus: any EventBus
    if busKind == "redis" {
        let url = try RedisURL(environment["REDIS_URL"] ?? "redis://127.0.0.1:6379")
        let client = RedisClient(.init(url: url), logger: logger)
        redis = client
        let streams = RedisStreamsEventBus(redis: client, url: url, prefix: "bench:\(UUID().uuidString.prefix(8))", logger: logger)
        bus = streams
        services.append(streams.consumerService(consumer))
    } else {
        let inProcess = InProcessEventBus(logger: logger)
        inProcess.subscribe(consumer)
        bus = inProcess
    }
    services.append(OutboxRelay(outbox: outbox, bus: bus, logger: logger, batchSize: 500))

    try await withThrowingTaskGroup(of: Void.self) { group in
        for service in services { group.addTask { try await service.run() } }

        // Throughput: a backlog of `total` events, written 100 to a transaction, drained.
        let start = ContinuousClock.now
        for batch in stride(from: 0, to: total, by: 100) {
            try await producer.transaction { sql in
                for number in batch..<min(batch + 100, total) {
                    try await outbox.append(Tick(number: number), at: Date(), in: sql)
                }
            }
            outbox.committed()
        }
        try await waitUntilHandled(total, recorder)
        let elapsed = ContinuousClock.now - start
        let perSecond = Double(total) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        print(
            String(
                format: "%@: %d events written, relayed and consumed in %.2f s: %.0f events/s",
                busKind,
                total,
                perSecond == 0 ? 0 : Double(total) / perSecond,
                perSecond
            )
        )

        // Latency: one event per transaction at a steady rate, time from commit to handler.
        recorder.latencies.withLock { $0.removeAll() }
        let interval = Duration.seconds(1) / rate
        var next = ContinuousClock.now
        for number in 0..<(rate * seconds) {
            try await producer.transaction { sql in
                try await outbox.append(Tick(number: number), at: Date(), in: sql)
            }
            outbox.committed()
            next += interval
            try await Task.sleep(until: next)
        }
        try await waitUntilHandled(total + rate * seconds, recorder)
        let latencies = recorder.latencies.withLock { $0 }
        print(
            String(
                format: "%@: %d events at %d/s, commit to consumer: p50 %.2f ms, p99 %.2f ms, max %.2f ms",
                busKind,
                latencies.count,
                rate,
                percentile(latencies, 0.5) * 1000,
                percentile(latencies, 0.99) * 1000,
                (latencies.max() ?? 0) * 1000
            )
        )
        group.cancelAll()
    }
    redis?.shutdown()
}
