import ArgumentParser
import Foundation
import Logging
import Platform

/// The services this binary can run; `all` runs every one with the gateway in one process.
enum ServiceName: String, CaseIterable, ExpressibleByArgument, Sendable {
    case all
    case users
}

/// Everything a run needs, from environment variables and flags (flags win), validated
/// before anything starts.
struct Settings: Sendable {
    var host = "127.0.0.1"
    var port = 8080
    var dataDirectory = "./data"
    var service = ServiceName.all
    var usersDatabaseURL: DatabaseURL?
    var logLevel = Logger.Level.info
    var logFormat = LogFormat.text
    var shutdownGrace = Duration.seconds(30)

    /// Reads the environment; every wrong value is reported with its variable's name.
    init(environment: [String: String], service: ServiceName) throws(ConfigurationError) {
        let env = EnvironmentReader(environment)
        self.service = service
        if let host = env.string("HOST") { self.host = host }
        if let port = try env.int("PORT", in: 0...65535) { self.port = port }
        if let directory = env.string("DATA_DIR") { self.dataDirectory = directory }
        if let level = try env.choice("LOG_LEVEL", as: Logger.Level.self) { self.logLevel = level }
        if let format = try env.choice("LOG_FORMAT", as: LogFormat.self) { self.logFormat = format }
        if let grace = try env.int("SHUTDOWN_GRACE_SECONDS", in: 1...3600) { self.shutdownGrace = .seconds(grace) }
        // One service alone takes DATABASE_URL; a service-specific URL wins in any mode.
        let parse = { (raw: String) throws(InvalidValue) -> DatabaseURL in try DatabaseURL(raw) }
        usersDatabaseURL = try env.parsed("USERS_DATABASE_URL", parse)
        if usersDatabaseURL == nil, service == .users {
            usersDatabaseURL = try env.parsed("DATABASE_URL", parse)
        }
    }

    /// The SQLite file of a service on the embedded default.
    func sqlitePath(for service: String) -> String {
        URL(fileURLWithPath: dataDirectory).appendingPathComponent("\(service).sqlite").path
    }
}

/// Flags shared by the commands that open the databases.
struct CommonOptions: ParsableArguments {
    @Option(help: "Which service to run: all (the gateway and every service) or one service.")
    var service: ServiceName = .all

    @Option(name: .customLong("data-dir"), help: "Folder for the embedded databases (env DATA_DIR, default ./data).")
    var dataDirectory: String?

    func settings() throws -> Settings {
        var settings: Settings
        do {
            settings = try Settings(environment: ProcessInfo.processInfo.environment, service: service)
        } catch {
            throw ValidationError("configuration: \(error)")
        }
        if let dataDirectory { settings.dataDirectory = dataDirectory }
        return settings
    }
}
