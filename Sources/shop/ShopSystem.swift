import Foundation
import Gateway
import Hummingbird
import Logging
import Platform
import ServiceLifecycle
import UserService

/// The composition root: builds the concrete graph for one run mode, once.
struct ShopSystem: Sendable {
    let settings: Settings
    let users: UserService
    let databases: [any Database]
    /// Pools that must run in the service group (PostgreSQL clients).
    let databaseServices: [any Service]

    /// Opens the databases the chosen mode needs (creating SQLite files as required).
    static func open(_ settings: Settings, logger: Logger) async throws -> ShopSystem {
        var databases: [any Database] = []
        var services: [any Service] = []
        func database(_ name: String, url: DatabaseURL?) async throws -> any Database {
            if let url {
                let postgres = PostgresDatabase(url: url, logger: logger)
                services.append(postgres)
                databases.append(postgres)
                return postgres
            }
            try FileManager.default.createDirectory(atPath: settings.dataDirectory, withIntermediateDirectories: true)
            let sqlite = try await SQLiteDatabase.open(path: settings.sqlitePath(for: name), logger: logger)
            databases.append(sqlite)
            return sqlite
        }
        let users = UserService(database: try await database("users", url: settings.usersDatabaseURL))
        return ShopSystem(settings: settings, users: users, databases: databases, databaseServices: services)
    }

    /// Applies every service's migrations.
    func migrate(logger: Logger) async throws {
        try await users.migrate(logger: logger)
    }

    /// Runs `body` with the PostgreSQL pools running (for commands that are not servers).
    func withDatabases(_ body: @Sendable @escaping () async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for service in databaseServices {
                group.addTask { try await service.run() }
            }
            defer { group.cancelAll() }
            try await body()
        }
    }

    /// The HTTP application for this mode; `onRunning` hears the bound port.
    func application(
        logger: Logger,
        onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = Gateway.makeRouter(health: users.healthChecks) { api in
            users.addRoutes(to: api)
        }
        let host = settings.host
        var app = Application(
            router: router,
            configuration: .init(address: .hostname(host, port: settings.port), serverName: nil),
            services: databaseServices + users.backgroundServices(logger: logger),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                logger.notice("listening on http://\(host):\(port)", metadata: ["service": "\(settings.service.rawValue)"])
                await onRunning(port)
            },
            logger: logger
        )
        app.beforeServerStarts {
            try await migrate(logger: logger)
        }
        return app
    }

    func close() async {
        for database in databases {
            try? await database.close()
        }
    }
}
