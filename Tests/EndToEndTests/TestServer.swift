import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Platform
import ServiceLifecycle
import TestSupport

@testable import shop

/// A response as a client sees it.
struct HTTPResult: Sendable {
    let status: Int
    let headers: [String: String]
    let body: Data

    var json: JSONValue? { try? JSONValue.parse(body) }
    func header(_ name: String) -> String? { headers[name.lowercased()] }
}

/// The real system, built by the composition root, listening on a free loopback port.
///
/// Requests carry `token` as a bearer token when it is set: the shop that
/// ``TestServer/with(service:usersDatabaseURL:environment:_:)`` hands out is signed in as
/// an admin; ``anonymous`` and ``signedIn(as:)`` give other callers.
struct RunningShop: Sendable {
    let port: Int
    var token: String?
    /// The PEM file holding the server's signing keys, when known.
    var keysPath: String?
    /// Where the server keeps its files (SQLite databases, image blobs), when known.
    var dataDirectory: String?
    /// The port of the internal listener (`/metrics`, service-to-service calls), when it runs.
    var internalPort: Int?

    init(port: Int, token: String? = nil, keysPath: String? = nil, dataDirectory: String? = nil, internalPort: Int? = nil) {
        self.port = port
        self.token = token
        self.keysPath = keysPath
        self.dataDirectory = dataDirectory
        self.internalPort = internalPort
    }

    var baseURL: String { "http://127.0.0.1:\(port)" }

    /// The same shop, calling without credentials.
    var anonymous: RunningShop {
        RunningShop(port: port, keysPath: keysPath, dataDirectory: dataDirectory, internalPort: internalPort)
    }

    /// The same shop, calling with `token`.
    func signedIn(as token: String) -> RunningShop {
        RunningShop(port: port, token: token, keysPath: keysPath, dataDirectory: dataDirectory, internalPort: internalPort)
    }

    /// The internal listener of this shop, called without credentials.
    var internalListener: RunningShop {
        get throws {
            guard let internalPort else { throw NoInternalListener() }
            return RunningShop(port: internalPort, keysPath: keysPath, dataDirectory: dataDirectory)
        }
    }

    static let password = "correct horse battery staple"

    func request(
        _ method: NIOHTTP1.HTTPMethod,
        _ path: String,
        headers: [(String, String)] = [],
        json: String? = nil,
        body: Data? = nil
    ) async throws -> HTTPResult {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        for (name, value) in headers { request.headers.replaceOrAdd(name: name, value: value) }
        if let json {
            if !headers.contains(where: { $0.0.lowercased() == "content-type" }) {
                request.headers.add(name: "Content-Type", value: "application/json")
            }
            request.body = .bytes(ByteBuffer(string: json))
        } else if let body {
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let buffer = try await response.body.collect(upTo: 16 << 20)
        var fields: [String: String] = [:]
        for header in response.headers { fields[header.name.lowercased()] = header.value }
        return HTTPResult(status: Int(response.status.code), headers: fields, body: Data(buffer.readableBytesView))
    }

    /// Registers a customer (anonymously, with ``password``) and returns its id.
    func createUser(_ email: String, name: String = "Test User") async throws -> Int64 {
        let result = try await anonymous.request(
            .POST,
            "/api/v1/users",
            json: #"{"email":"\#(email)","name":"\#(name)","password":"\#(Self.password)"}"#
        )
        guard result.status == 201, let id = result.json?["data"]?["id"]?.integer else {
            throw UnexpectedResponse(result: result)
        }
        return id
    }

    /// Logs in and returns the access and refresh tokens.
    func logIn(_ email: String, password: String = RunningShop.password) async throws -> (access: String, refresh: String) {
        let result = try await anonymous.request(
            .POST,
            "/api/v1/auth/token",
            json: #"{"email":"\#(email)","password":"\#(password)"}"#
        )
        guard result.status == 200, let access = result.json?["data"]?["access_token"]?.string,
            let refresh = result.json?["data"]?["refresh_token"]?.string
        else { throw UnexpectedResponse(result: result) }
        return (access, refresh)
    }

    /// Registers a customer and returns its id and a shop signed in as it.
    func customer(_ email: String) async throws -> (id: Int64, shop: RunningShop) {
        let id = try await createUser(email)
        return (id, signedIn(as: try await logIn(email).access))
    }
}

struct NoInternalListener: Error {}

struct UnexpectedResponse: Error, CustomStringConvertible {
    let result: HTTPResult
    var description: String { "unexpected \(result.status): \(String(decoding: result.body, as: UTF8.self))" }
}

enum TestServer {
    static let logger: Logger = {
        var logger = Logger(label: "e2e")
        logger.logLevel = .warning
        return logger
    }()

    static let adminEmail = "admin@shop.test"

    /// What tests run with unless they say otherwise: cheap password hashes and limits
    /// that only the rate-limit tests reach.
    static let environment = [
        "BCRYPT_COST": "4", "RATE_LIMIT": "100000/60", "RATE_LIMIT_CREDENTIALS": "100000/60",
        // A loaded test machine may take longer than production's 250 ms to reach Redis.
        "REDIS_TIMEOUT_MS": "5000",
        // The internal listener (/metrics, service-to-service calls) on a free port.
        "INTERNAL_PORT": "0",
        // Services' calls to each other (Orders to Payments) on that listener.
        "INTERNAL_API_TOKEN": internalToken,
        // The test network signs its webhooks with it, and tests sign theirs.
        "TEST_NETWORK_WEBHOOK_SECRET": webhookSecret,
        // Named, as Payments alone requires.
        "PAYMENTS_PROVIDER": "test",
    ]

    static let internalToken = "internal-token-for-tests-0123456789abcdef"
    static let webhookSecret = "whsec_tests_0123456789"

    /// Runs the all-in-one system with the Users service on `engine` (a fresh PostgreSQL
    /// database, or the embedded SQLite file).
    static func with(
        engine: DatabaseKind,
        environment: [String: String] = [:],
        _ body: @Sendable (RunningShop) async throws -> Void
    ) async throws {
        switch engine {
        case .sqlite:
            try await with(environment: environment, body)
        case .postgres:
            try await TestDatabases.withPostgresURL { url in
                try await TestDatabases.withPostgresURL { paymentsURL in
                    try await with(usersDatabaseURL: url, paymentsDatabaseURL: paymentsURL, environment: environment, body)
                }
            }
        }
    }

    /// Runs the all-in-one system with every service's database on `engine`: a fresh
    /// PostgreSQL database each, or the embedded SQLite files.
    static func withEveryDatabase(
        on engine: DatabaseKind,
        environment: [String: String] = [:],
        _ body: @Sendable (RunningShop) async throws -> Void
    ) async throws {
        guard engine == .postgres else { return try await with(environment: environment, body) }
        try await TestDatabases.withPostgresURL { users in
            try await TestDatabases.withPostgresURL { products in
                try await TestDatabases.withPostgresURL { payments in
                    try await TestDatabases.withPostgresURL { orders in
                        try await TestDatabases.withPostgresURL { notifications in
                            try await with(
                                usersDatabaseURL: users,
                                productsDatabaseURL: products,
                                paymentsDatabaseURL: payments,
                                ordersDatabaseURL: orders,
                                notificationsDatabaseURL: notifications,
                                environment: environment,
                                body
                            )
                        }
                    }
                }
            }
        }
    }

    /// Runs the system for `body`, signed in as an admin, then shuts it down gracefully.
    static func with(
        service: ServiceName = .all,
        usersDatabaseURL: DatabaseURL? = nil,
        productsDatabaseURL: DatabaseURL? = nil,
        paymentsDatabaseURL: DatabaseURL? = nil,
        ordersDatabaseURL: DatabaseURL? = nil,
        notificationsDatabaseURL: DatabaseURL? = nil,
        environment: [String: String] = [:],
        _ body: @Sendable (RunningShop) async throws -> Void
    ) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("shop-e2e-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        var environment = Self.environment.merging(environment) { $1 }
        if service != .all, environment["JWT_SIGNING_KEYS_FILE"] == nil {
            let path = directory.appendingPathComponent("keys.pem").path
            _ = try SigningKeySet.loadOrCreate(path: path)
            environment["JWT_SIGNING_KEYS_FILE"] = path
        }
        var settings = try Settings(environment: environment, service: service)
        settings.port = 0
        settings.dataDirectory = directory.path
        settings.usersDatabaseURL = usersDatabaseURL
        if let paymentsDatabaseURL { settings.paymentsDatabaseURL = paymentsDatabaseURL }
        if let productsDatabaseURL { settings.productsDatabaseURL = productsDatabaseURL }
        if let ordersDatabaseURL { settings.ordersDatabaseURL = ordersDatabaseURL }
        if let notificationsDatabaseURL { settings.notifications.databaseURL = notificationsDatabaseURL }
        let system = try await ShopSystem.open(settings, logger: logger)
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let (internalPorts, internalContinuation) = AsyncStream<Int>.makeStream()
        let applications = system.applications(logger: logger) { port in
            continuation.yield(port)
            continuation.finish()
        } onInternalRunning: { port in
            internalContinuation.yield(port)
            internalContinuation.finish()
        }
        if settings.internalPort == nil { internalContinuation.finish() }
        let group = ServiceGroup(services: applications, logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                // A shop that cannot start ends the waits for its ports too.
                defer {
                    continuation.finish()
                    internalContinuation.finish()
                }
                try await group.run()
            }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else {
                var failure: any Error = ServerDidNotStart()
                do { try await tasks.waitForAll() } catch { failure = error }
                await system.close()
                throw failure
            }
            var internalIterator = internalPorts.makeAsyncIterator()
            let internalPort = await internalIterator.next()
            do {
                _ = try await system.users?.bootstrapAdmin(email: adminEmail, name: "Admin", password: RunningShop.password)
                let keysPath: String? =
                    switch settings.signingKeySource {
                    case .file(let path), .generated(let path): path
                    case .pem: nil
                    }
                let shop = RunningShop(port: port, keysPath: keysPath, dataDirectory: settings.dataDirectory, internalPort: internalPort)
                try await body(shop.signedIn(as: try await shop.logIn(adminEmail).access))
            } catch {
                await group.triggerGracefulShutdown()
                try? await tasks.waitForAll()
                await system.close()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        await system.close()
    }
}

struct ServerDidNotStart: Error {}
