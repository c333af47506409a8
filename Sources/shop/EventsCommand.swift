import ArgumentParser
import Foundation
import Logging
import Platform
import Redis

/// `shop events`: operating the event backbone.
struct EventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events",
        abstract: "Inspect and replay dead-lettered events.",
        subcommands: [DeadLettersCommand.self, ReplayCommand.self]
    )
}

/// `shop events dead-letters`: what consumers gave up on, with why.
struct DeadLettersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dead-letters",
        abstract: "List dead-lettered events (from Redis with REDIS_URL, else from the databases)."
    )

    @OptionGroup var common: CommonOptions

    func run() async throws {
        let settings = try common.settings(for: .maintenance)
        LogSetup.bootstrap(format: settings.logFormat, level: .warning)
        try await ShopSystem.maintain(settings, logger: Logger(label: "shop")) { system in
            for line in try await system.deadLetterLines() { print(line) }
        }
    }
}

/// `shop events replay <id>`: hands one dead letter to its consumer again.
struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "replay", abstract: "Re-queue one dead-lettered event.")

    @OptionGroup var common: CommonOptions

    @Argument(help: "The dead letter's id, as `shop events dead-letters` prints it.")
    var id: String

    func run() async throws {
        let settings = try common.settings(for: .maintenance)
        LogSetup.bootstrap(format: settings.logFormat, level: .warning)
        let id = self.id
        try await ShopSystem.maintain(settings, logger: Logger(label: "shop")) { system in
            guard try await system.replayDeadLetter(id) else { throw ValidationError("no dead letter \(id)") }
            print("replayed \(id)")
        }
    }
}

extension ShopSystem {
    /// One line per dead letter: id, consumer, event type and id, attempts, reason.
    func deadLetterLines() async throws -> [String] {
        if let streams = bus as? RedisStreamsEventBus {
            return try await streams.redis.streamRange(streams.deadLetterStream, count: 1000).map { entry in
                let event = entry.fields["event"].flatMap { try? EventEnvelope(decoding: Data($0.utf8)) }
                return [
                    entry.id, entry.fields["consumer"] ?? "?", event?.type ?? "?", event?.id ?? "?",
                    "attempts=\(entry.fields["attempts"] ?? "?")", entry.fields["reason"] ?? "",
                ].joined(separator: "\t")
            }
        }
        var lines: [String] = []
        for (service, database) in consumerDatabases {
            for letter in try await DeadLetters.list(in: database, limit: 1000) {
                lines.append(
                    [
                        "\(service):\(letter.id)", letter.consumer, letter.event.type, letter.event.id,
                        "attempts=\(letter.attempts)", letter.reason,
                    ].joined(separator: "\t")
                )
            }
        }
        return lines
    }

    /// Replays `id` (`<service>:<n>` in process, a stream entry id on Redis).
    func replayDeadLetter(_ id: String) async throws -> Bool {
        if let streams = bus as? RedisStreamsEventBus {
            return try await streams.replay(deadLetterID: id)
        }
        let parts = id.split(separator: ":")
        guard parts.count == 2, let number = Int64(parts[1]),
            let database = consumerDatabases.first(where: { $0.service == parts[0] })?.database
        else { return false }
        return try await DeadLetters.replay(id: number, in: database, consumers: consumers, now: Date())
    }
}
