import ArgumentParser
import Foundation
import Gateway
import Logging
import Platform
import Redis

/// The services this binary can run; `all` runs every one with the gateway in one process.
enum ServiceName: String, CaseIterable, ExpressibleByArgument, Sendable {
    case all
    case users
}

/// Where the access-token signing keys come from.
enum SigningKeySource: Sendable {
    /// PEM text from the environment.
    case pem(String)
    /// A PEM file that must exist.
    case file(String)
    /// A development key made on first start and kept in the data folder.
    case generated(String)
}

/// Everything a run needs, from environment variables and flags (flags win), validated
/// before anything starts.
struct Settings: Sendable {
    var host = "127.0.0.1"
    var port = 8080
    var dataDirectory = "./data"
    var service = ServiceName.all
    var usersDatabaseURL: DatabaseURL?
    var productsDatabaseURL: DatabaseURL?
    var redisURL: RedisURL?
    /// How long the guard waits for Redis before failing open or closed.
    var redisTimeout = Duration.milliseconds(250)
    var logLevel = Logger.Level.info
    var logFormat = LogFormat.text
    var shutdownGrace = Duration.seconds(30)
    var signingKeys: SigningKeySource?
    var tokenIssuer = "shop"
    var tokenAudience = "shop-api"
    var accessTokenLifetime = Duration.seconds(900)
    var passwordCost = 12
    var guardConfiguration = GuardConfiguration()

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
        productsDatabaseURL = try env.parsed("PRODUCTS_DATABASE_URL", parse)
        redisURL = try env.parsed("REDIS_URL") { (raw: String) throws(InvalidValue) in
            do { return try RedisURL(raw) } catch { throw InvalidValue("must be redis://[user:password@]host[:port][/db], got '\(raw)'") }
        }

        if let pem = env.string("JWT_SIGNING_KEYS") {
            signingKeys = .pem(pem)
        } else if let path = env.string("JWT_SIGNING_KEYS_FILE") {
            signingKeys = .file(path)
        } else if service != .all {
            // Instances of one service must share keys; a key made here would be theirs alone.
            throw ConfigurationError(
                variable: "JWT_SIGNING_KEYS_FILE", reason: "(or JWT_SIGNING_KEYS) is required when one service runs alone")
        }
        if let milliseconds = try env.int("REDIS_TIMEOUT_MS", in: 10...60_000) { redisTimeout = .milliseconds(milliseconds) }
        if let issuer = env.string("JWT_ISSUER") { tokenIssuer = issuer }
        if let audience = env.string("JWT_AUDIENCE") { tokenAudience = audience }
        if let seconds = try env.int("ACCESS_TOKEN_TTL_SECONDS", in: 60...86_400) { accessTokenLifetime = .seconds(seconds) }
        if let cost = try env.int("BCRYPT_COST", in: 4...31) { passwordCost = cost }

        if let policy = try env.parsed("RATE_LIMIT", { (raw: String) throws(InvalidValue) in
            try RateLimitPolicy(name: "default", parsing: raw)
        }) { guardConfiguration.defaultPolicy = policy }
        if let policy = try env.parsed("RATE_LIMIT_CREDENTIALS", { (raw: String) throws(InvalidValue) in
            try RateLimitPolicy(name: "credentials", parsing: raw)
        }) { guardConfiguration.credentialPolicy = policy }
        if let failOpen = try env.bool("RATE_LIMIT_FAIL_OPEN") { guardConfiguration.failOpen = failOpen }
        if let proxies = env.list("TRUSTED_PROXIES") { guardConfiguration.trustedProxies = Set(proxies) }
        if let origins = env.list("CORS_ALLOWED_ORIGINS") { guardConfiguration.allowedOrigins = Set(origins) }
    }

    /// The SQLite file of a service on the embedded default.
    func sqlitePath(for service: String) -> String {
        URL(fileURLWithPath: dataDirectory).appendingPathComponent("\(service).sqlite").path
    }

    /// Where the signing keys come from: configured, or the development key file.
    var signingKeySource: SigningKeySource {
        signingKeys ?? .generated(URL(fileURLWithPath: dataDirectory).appendingPathComponent("jwt-signing-keys.pem").path)
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
