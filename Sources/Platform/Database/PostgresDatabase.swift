public import Logging
import NIOSSL
import PostgresKit
import PostgresNIO
import SQLKit
public import ServiceLifecycle

/// A service's PostgreSQL database through a `PostgresClient` pool.
///
/// It is a `Service`: run it in the service group (or with ``withRunning(_:)``) for the
/// pool to work.
public final class PostgresDatabase: Database, Service {
    public var kind: DatabaseKind { .postgres }

    private let client: PostgresClient
    private let logger: Logger

    public init(url: DatabaseURL, maxConnections: Int = 20, logger: Logger) {
        var configuration = PostgresClient.Configuration(
            host: url.host,
            port: url.port,
            username: url.username,
            password: url.password,
            database: url.database,
            tls: url.requireTLS ? .require(.makeClientConfiguration()) : .disable
        )
        configuration.options.maximumConnections = maxConnections
        configuration.options.connectionIdleTimeout = .seconds(60)
        self.client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.logger = logger
    }

    public func run() async {
        await client.run()
    }

    /// Runs the pool for the duration of `body`.
    public func withRunning<Result: Sendable>(_ body: () async throws -> Result) async throws -> Result {
        try await withThrowingTaskGroup(of: Void.self) { group in
            // The body waits until the pool's task is on its way into `run()`, so its first
            // query does not find the pool not yet running (the client warns about it).
            let (started, signal) = AsyncStream<Void>.makeStream()
            group.addTask {
                signal.finish()
                await self.client.run()
            }
            defer { group.cancelAll() }
            for await _ in started {}
            return try await body()
        }
    }

    public func read<Result: Sendable>(_ body: (any SQLDatabase) async throws -> Result) async throws -> Result {
        try await translatingConnectionErrors {
            try await client.withConnection { connection in
                try await body(connection.sql(queryLogLevel: .trace))
            }
        }
    }

    public func transaction<Result: Sendable>(_ body: (any SQLDatabase) async throws -> Result) async throws -> Result {
        // Our own BEGIN/COMMIT rather than the client's helper, which wraps errors.
        try await translatingConnectionErrors {
            try await client.withConnection { connection in
                try await connection.sql(queryLogLevel: .trace).runTransaction(begin: "BEGIN", logger: logger, body)
            }
        }
    }

    public func close() async throws {}

    private func translatingConnectionErrors<Result>(_ body: () async throws -> Result) async throws -> Result {
        do {
            return try await body()
        } catch let error as PSQLError
            where [.connectionError, .serverClosedConnection, .poolClosed, .uncleanShutdown].contains(error.code)
        {
            throw DatabaseUnavailable(underlying: error)
        }
    }
}
