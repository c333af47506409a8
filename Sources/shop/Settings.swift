import ArgumentParser
import Foundation
import Gateway
import Logging
import ObjectStorage
import OrderService
import PaymentService
import Platform
import ProductService
import Redis

/// The services this binary can run; `all` runs every one with the gateway in one process,
/// `gateway` the edge alone, in front of the others in their own processes.
enum ServiceName: String, CaseIterable, ExpressibleByArgument, Sendable {
    case all
    case users
    case products
    case payments
    case orders
    case notifications
    case gateway

    /// The services the gateway sends requests to, with the variable that lists each one's
    /// instances.
    static let upstreams: [(service: ServiceName, variable: String)] = [
        (.users, "USERS_URL"), (.products, "PRODUCTS_URL"), (.orders, "ORDERS_URL"), (.payments, "PAYMENTS_URL"),
        (.notifications, "NOTIFICATIONS_URL"),
    ]

    /// Whether this process runs the Users service.
    var runsUsers: Bool { self == .all || self == .users }
    /// Whether this process runs the Products service.
    var runsProducts: Bool { self == .all || self == .products }
    /// Whether this process runs the Payments service.
    var runsPayments: Bool { self == .all || self == .payments }
    /// Whether this process runs the Orders service.
    var runsOrders: Bool { self == .all || self == .orders }
    /// Whether this process runs the Notifications service.
    var runsNotifications: Bool { self == .all || self == .notifications }
}

/// What a command does with the system: serve it (the configuration of a server is
/// required), or maintain it (migrate, seed, administer), which needs only the databases.
enum Purpose: Sendable {
    case serve
    case maintenance
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
    /// The internal listener (`/metrics`, service-to-service calls): required when one
    /// service runs alone, off all-in-one unless set.
    var internalPort: Int?
    var internalHost: String?
    var connectionLimits = ConnectionLimits()
    var dataDirectory = "./data"
    var service = ServiceName.all
    var purpose = Purpose.serve
    var usersDatabaseURL: DatabaseURL?
    var productsDatabaseURL: DatabaseURL?
    var paymentsDatabaseURL: DatabaseURL?
    var ordersDatabaseURL: DatabaseURL?
    /// A read replica of the orders database for reports (`ORDERS_READ_DATABASE_URL`).
    var ordersReadDatabaseURL: DatabaseURL?
    /// Where Orders alone reaches the others: the internal listeners of Products and
    /// Payments (with the service token), and Users' public API (with the caller's token).
    var productsInternalURL: String?
    var paymentsInternalURL: String?
    /// The public addresses of each service's instances (`USERS_URL`...), for the gateway;
    /// Orders alone calls the first of Users'.
    var upstreams: [ServiceName: [UpstreamAddress]] = [:]
    /// Every instance of Users, comma-separated.
    var usersURL: String? { upstreams[.users].map { $0.map(\.description).joined(separator: ",") } }
    /// How long the gateway waits for an upstream's answer, and how often it asks every
    /// instance's `/health/ready`.
    var gatewayTimeouts = RouteTimeouts()
    var gatewayHealthInterval = Duration.milliseconds(2000)
    /// Carts and checkout: the guest cart TTL, the stock hold, the recovery worker's lease.
    var orders = OrderService.Settings()
    /// E-mail, webhooks and the delivery log.
    var notifications = NotificationSettings()
    /// Who takes the money: the simulated `test` network, or Stripe.
    var paymentProvider = PaymentProviderSetting.test
    var payment = PaymentService.Settings()
    /// Signs the test network's webhooks; made for the process when not set.
    var testNetworkWebhookSecret: String?
    var testNetworkActionDelay = Duration.seconds(2)
    var testNetworkSlowDelay: Duration?
    var redisURL: RedisURL?
    /// How long the guard waits for Redis before failing open or closed.
    var redisTimeout = Duration.milliseconds(250)
    var logLevel = Logger.Level.info
    var logFormat = LogFormat.text
    var shutdownGrace = Duration.seconds(30)
    /// How long `/health/ready` fails before the listeners close on a stop: none all-in-one
    /// (nothing balances over it), 5 s for a service or gateway alone.
    var shutdownDrain = Duration.zero
    var signingKeys: SigningKeySource?
    /// Where Users publishes its public keys, for a process that only verifies tokens.
    var jwksURL: String?
    var tokenIssuer = "shop"
    var tokenAudience = "shop-api"
    var accessTokenLifetime = Duration.seconds(900)
    var passwordCost = 12
    /// Password hashes that may wait for a hashing thread before logins get 503.
    var passwordHashQueue = 64
    var guardConfiguration = GuardConfiguration()
    /// S3-compatible storage for product images; the folder `<DATA_DIR>/blobs` without it.
    var s3: S3Storage.Configuration?
    /// How long one S3 call may take.
    var s3Timeout = Duration.seconds(10)
    var imageMaxBytes = ImageSettings.defaultMaxBytes
    var imagesBaseURL = "/images/"
    /// What services in other processes present on the internal API (`--service products`).
    var internalToken: String?
    /// How long catalog reads may come from the read cache; zero turns it off.
    var catalogCacheTTL = Duration.seconds(60)
    /// With Redis, how long an existing product's entry lives (never less than the above).
    var productCacheTTL = Duration.seconds(3600)

    /// Reads the environment; every wrong value is reported with its variable's name.
    init(environment: [String: String], service: ServiceName, purpose: Purpose = .serve) throws(ConfigurationError) {
        let env = EnvironmentReader(environment)
        self.service = service
        self.purpose = purpose
        let serving = purpose == .serve
        if let host = env.string("HOST") { self.host = host }
        if let port = try env.int("PORT", in: 0...65535) { self.port = port }
        if let directory = env.string("DATA_DIR") { self.dataDirectory = directory }
        internalPort = try env.int("INTERNAL_PORT", in: 0...65535)
        internalHost = env.string("INTERNAL_HOST")
        if internalPort == nil, service != .all, serving {
            throw ConfigurationError(
                variable: "INTERNAL_PORT",
                reason: "is required when one service runs alone: it serves /metrics and the calls of other services"
            )
        }
        if let seconds = try env.int("REQUEST_HEAD_TIMEOUT_SECONDS", in: 1...3600) { connectionLimits.headTimeout = .seconds(seconds) }
        if let seconds = try env.int("REQUEST_BODY_TIMEOUT_SECONDS", in: 1...3600) { connectionLimits.bodyTimeout = .seconds(seconds) }
        if let seconds = try env.int("IDLE_TIMEOUT_SECONDS", in: 1...3600) { connectionLimits.idleTimeout = .seconds(seconds) }
        if let count = try env.int("MAX_CONNECTIONS", in: 1...1_000_000) { connectionLimits.maxConnections = count }
        if let level = try env.choice("LOG_LEVEL", as: Logger.Level.self) { self.logLevel = level }
        if let format = try env.choice("LOG_FORMAT", as: LogFormat.self) { self.logFormat = format }
        if let grace = try env.int("SHUTDOWN_GRACE_SECONDS", in: 1...3600) { self.shutdownGrace = .seconds(grace) }
        if service != .all { shutdownDrain = .seconds(5) }
        if let drain = try env.int("SHUTDOWN_DRAIN_SECONDS", in: 0...3599) { shutdownDrain = .seconds(drain) }
        if shutdownDrain >= shutdownGrace {
            throw ConfigurationError(
                variable: "SHUTDOWN_DRAIN_SECONDS",
                reason: "must be less than SHUTDOWN_GRACE_SECONDS (\(shutdownGrace.components.seconds)): the requests in flight need time after it"
            )
        }
        // One service alone takes DATABASE_URL; a service-specific URL wins in any mode.
        let parse = { (raw: String) throws(InvalidValue) -> DatabaseURL in try DatabaseURL(raw) }
        usersDatabaseURL = try Self.secretParsed("USERS_DATABASE_URL", env, parse)
        if usersDatabaseURL == nil, service == .users {
            usersDatabaseURL = try Self.secretParsed("DATABASE_URL", env, parse)
        }
        productsDatabaseURL = try Self.secretParsed("PRODUCTS_DATABASE_URL", env, parse)
        if productsDatabaseURL == nil, service == .products {
            productsDatabaseURL = try Self.secretParsed("DATABASE_URL", env, parse)
        }
        paymentsDatabaseURL = try Self.secretParsed("PAYMENTS_DATABASE_URL", env, parse)
        if paymentsDatabaseURL == nil, service == .payments {
            paymentsDatabaseURL = try Self.secretParsed("DATABASE_URL", env, parse)
        }
        try readPaymentSettings(env, serving: serving)
        ordersDatabaseURL = try Self.secretParsed("ORDERS_DATABASE_URL", env, parse)
        if ordersDatabaseURL == nil, service == .orders {
            ordersDatabaseURL = try Self.secretParsed("DATABASE_URL", env, parse)
        }
        ordersReadDatabaseURL = try Self.secretParsed("ORDERS_READ_DATABASE_URL", env, parse)
        try readNotificationSettings(env, serving: serving)
        let httpURL = { (raw: String) throws(InvalidValue) -> String in
            guard let url = URL(string: raw), url.scheme == "http" || url.scheme == "https", url.host != nil, url.query == nil else {
                throw InvalidValue("must be an http(s) URL such as http://products:9090")
            }
            return raw
        }
        // Several instances, comma-separated, are called in turn (one that does not answer
        // is passed over).
        let httpURLs = { (raw: String) throws(InvalidValue) -> String in
            let urls = raw.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            for url in urls { _ = try httpURL(url) }
            return urls.joined(separator: ",")
        }
        productsInternalURL = try env.parsed("PRODUCTS_INTERNAL_URL", httpURLs)
        paymentsInternalURL = try env.parsed("PAYMENTS_INTERNAL_URL", httpURLs)
        for (upstream, variable) in ServiceName.upstreams {
            if let addresses = try env.parsed(variable, UpstreamAddress.list(parsing:)) {
                upstreams[upstream] = addresses
            } else if service == .gateway, serving {
                throw ConfigurationError(
                    variable: variable,
                    reason: "is required with --service gateway: the public http://host:port of each \(upstream.rawValue) instance, comma-separated"
                )
            }
        }
        if let seconds = try env.int("GATEWAY_TIMEOUT_SECONDS", in: 1...3600) { gatewayTimeouts.writes = .seconds(seconds) }
        if let seconds = try env.int("GATEWAY_READ_TIMEOUT_SECONDS", in: 1...3600) { gatewayTimeouts.reads = .seconds(seconds) }
        if let routes = try env.parsed("GATEWAY_ROUTE_TIMEOUTS", RouteTimeouts.parse) {
            gatewayTimeouts.routes.merge(routes) { $1 }
        }
        if let milliseconds = try env.int("GATEWAY_HEALTH_INTERVAL_MS", in: 100...3_600_000) {
            gatewayHealthInterval = .milliseconds(milliseconds)
        }
        if service == .orders, serving {
            for (variable, value, what) in [
                ("PRODUCTS_INTERNAL_URL", productsInternalURL, "the internal listener of Products"),
                ("PAYMENTS_INTERNAL_URL", paymentsInternalURL, "the internal listener of Payments"),
                ("USERS_URL", usersURL, "where Users serves its API"),
            ] where value == nil {
                throw ConfigurationError(variable: variable, reason: "is required when Orders runs alone: \(what)")
            }
        }
        if let days = try env.int("ORDERS_GUEST_CART_TTL_DAYS", in: 1...365) { orders.guestCartTTL = .seconds(days * 86_400) }
        if let seconds = try env.int("ORDERS_RESERVATION_HOLD_SECONDS", in: 60...86_400) { orders.reservationHold = .seconds(seconds) }
        if let seconds = try env.int("ORDERS_LEASE_SECONDS", in: 2...3600) { orders.lease = .seconds(seconds) }
        if let milliseconds = try env.int("ORDERS_REPORTS_EVERY_MS", in: 100...86_400_000) { orders.reportInterval = .milliseconds(milliseconds) }
        // The recovery worker takes an order over only after its lease: by then the charge
        // the request made must have been answered, or it could give up an order being paid.
        // A request's whole checkout (a reservation of up to 2 s over HTTP, then the charge)
        // must fit in it.
        guard orders.lease >= payment.providerTimeout + .seconds(3) else {
            throw ConfigurationError(variable: "ORDERS_LEASE_SECONDS", reason: "must be at least PAYMENT_PROVIDER_TIMEOUT_MS and 3 seconds")
        }
        // A recovered checkout must still find its stock held: the hold outlasts several leases.
        guard orders.reservationHold >= orders.lease * 3 else {
            throw ConfigurationError(variable: "ORDERS_RESERVATION_HOLD_SECONDS", reason: "must be at least three times ORDERS_LEASE_SECONDS")
        }
        // Orders in another process reserve stock through the internal API with it; the
        // all-in-one mode serves that API too when a token is set.
        if let token = try Self.secret("INTERNAL_API_TOKEN", env) {
            guard token.utf8.count >= 32 else {
                throw ConfigurationError(variable: "INTERNAL_API_TOKEN", reason: "must be at least 32 characters (openssl rand -hex 32)")
            }
            internalToken = token
        } else if service == .products || service == .payments || service == .orders || service == .gateway, serving {
            throw ConfigurationError(
                variable: "INTERNAL_API_TOKEN",
                reason: "(or INTERNAL_API_TOKEN_FILE) is required when \(service.rawValue.capitalized) runs alone"
            )
        }
        redisURL = try Self.secretParsed("REDIS_URL", env) { (raw: String) throws(InvalidValue) in
            do { return try RedisURL(raw) } catch {
                throw InvalidValue("must be redis://[user:password@]host[:port][/db], got '\(Self.withoutCredentials(raw))'")
            }
        }
        if redisURL == nil, service != .all, serving {
            // Without it, rate limits, ended sessions and events stay inside each process.
            throw ConfigurationError(
                variable: "REDIS_URL",
                reason: "is required when one service runs alone: rate limits, ended sessions and events are shared through it"
            )
        }

        // Users' instances, as USERS_URL names them.
        jwksURL = try env.parsed("JWT_JWKS_URL", UpstreamAddress.list(parsing:)).map { $0.map(\.description).joined(separator: ",") }
        if let pem = env.string("JWT_SIGNING_KEYS") {
            signingKeys = .pem(pem)
        } else if let path = env.string("JWT_SIGNING_KEYS_FILE") {
            signingKeys = .file(path)
        } else if service != .all, serving, jwksURL == nil || service == .users {
            // Instances of one service must share keys; a key made here would be theirs alone.
            throw ConfigurationError(
                variable: "JWT_SIGNING_KEYS_FILE",
                reason: service == .users
                    ? "(or JWT_SIGNING_KEYS) is required when Users runs alone: it signs access tokens"
                    : "(or JWT_SIGNING_KEYS, or JWT_JWKS_URL to verify with Users' public keys only) is required when one service runs alone"
            )
        }
        if let milliseconds = try env.int("REDIS_TIMEOUT_MS", in: 10...60_000) { redisTimeout = .milliseconds(milliseconds) }
        if let seconds = try env.int("S3_TIMEOUT_SECONDS", in: 1...300) { s3Timeout = .seconds(seconds) }
        if let bytes = try env.int("IMAGE_MAX_BYTES", in: 1024...(100 << 20)) { imageMaxBytes = bytes }
        if let base = env.string("IMAGES_BASE_URL") {
            imagesBaseURL = base.hasSuffix("/") ? base : base + "/"
        }
        if let seconds = try env.int("CATALOG_CACHE_TTL_SECONDS", in: 0...86_400) { catalogCacheTTL = .seconds(seconds) }
        if let seconds = try env.int("CATALOG_CACHE_PRODUCT_TTL_SECONDS", in: 1...604_800) { productCacheTTL = .seconds(seconds) }
        if let endpoint = try env.parsed(
            "S3_ENDPOINT",
            { (raw: String) throws(InvalidValue) -> URL in
                guard let url = URL(string: raw), url.scheme == "http" || url.scheme == "https", url.host != nil else {
                    throw InvalidValue("must be an http(s) URL such as https://s3.eu-west-1.amazonaws.com, got '\(raw)'")
                }
                return url
            }
        ) {
            func required(_ name: String) throws(ConfigurationError) -> String {
                guard let value = try Self.secret(name, env) else { throw ConfigurationError(variable: name, reason: "is required with S3_ENDPOINT") }
                return value
            }
            s3 = S3Storage.Configuration(
                endpoint: endpoint,
                bucket: try required("S3_BUCKET"),
                region: env.string("S3_REGION") ?? "us-east-1",
                accessKey: try required("S3_ACCESS_KEY_ID"),
                secretKey: try required("S3_SECRET_ACCESS_KEY"),
                pathStyle: try env.bool("S3_PATH_STYLE") ?? true
            )
        }
        if let issuer = env.string("JWT_ISSUER") { tokenIssuer = issuer }
        if let audience = env.string("JWT_AUDIENCE") { tokenAudience = audience }
        if let seconds = try env.int("ACCESS_TOKEN_TTL_SECONDS", in: 60...86_400) { accessTokenLifetime = .seconds(seconds) }
        if let cost = try env.int("BCRYPT_COST", in: 4...31) { passwordCost = cost }
        if let queue = try env.int("PASSWORD_HASH_QUEUE", in: 0...100_000) { passwordHashQueue = queue }

        if let policy = try env.parsed(
            "RATE_LIMIT",
            { (raw: String) throws(InvalidValue) in
                try RateLimitPolicy(name: "default", parsing: raw)
            }
        ) {
            guardConfiguration.defaultPolicy = policy
        }
        if let policy = try env.parsed(
            "RATE_LIMIT_CREDENTIALS",
            { (raw: String) throws(InvalidValue) in
                try RateLimitPolicy(name: "credentials", parsing: raw)
            }
        ) {
            guardConfiguration.credentialPolicy = policy
        }
        if let failOpen = try env.bool("RATE_LIMIT_FAIL_OPEN") { guardConfiguration.failOpen = failOpen }
        if let proxies = env.list("TRUSTED_PROXIES") {
            do {
                guardConfiguration.trustedProxies = try TrustedProxies(proxies)
            } catch {
                throw ConfigurationError(variable: "TRUSTED_PROXIES", reason: error.reason)
            }
        }
        if let origins = env.list("CORS_ALLOWED_ORIGINS") { guardConfiguration.allowedOrigins = Set(origins) }
        // A service alone may sit behind the gateway, which rate-limits for it; the gateway
        // itself believes no such header.
        if service != .all, service != .gateway { guardConfiguration.gatewayToken = internalToken }
    }

    /// `NAME`, or the contents of the file `NAME_FILE` names (for secrets mounted as files).
    static func secret(_ name: String, _ env: EnvironmentReader) throws(ConfigurationError) -> String? {
        if let value = env.string(name) { return value }
        guard let path = env.string(name + "_FILE") else { return nil }
        guard let contents = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ConfigurationError(variable: name + "_FILE", reason: "names a file that cannot be read: \(path)")
        }
        return contents.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A value that carries a password (a database or Redis URL), from `NAME` or the file
    /// `NAME_FILE` names, as `parse` reads it; an error names the variable that held it.
    static func secretParsed<Value>(
        _ name: String,
        _ env: EnvironmentReader,
        _ parse: (String) throws(InvalidValue) -> Value
    ) throws(ConfigurationError) -> Value? {
        guard let raw = try secret(name, env) else { return nil }
        do {
            return try parse(raw)
        } catch {
            throw ConfigurationError(variable: env.string(name) == nil ? name + "_FILE" : name, reason: error.reason)
        }
    }

    /// `url` with whatever stands between `//` and `@` masked: a URL with a password in it
    /// is echoed in an error message, and that message reaches logs.
    static func withoutCredentials(_ url: String) -> String {
        guard let at = url.lastIndex(of: "@") else { return url }
        // Without `//` (a mistyped URL) everything before the `@` may be a secret.
        let start = url.range(of: "//").map { $0.upperBound } ?? url.startIndex
        guard start <= at else { return "***" + url[at...] }
        return url[..<start] + "***" + url[at...]
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

    func settings(for purpose: Purpose = .serve) throws -> Settings {
        var settings: Settings
        do {
            settings = try Settings(environment: ProcessInfo.processInfo.environment, service: service, purpose: purpose)
        } catch {
            throw ValidationError("configuration: \(error)")
        }
        if let dataDirectory { settings.dataDirectory = dataDirectory }
        return settings
    }
}
