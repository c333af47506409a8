// The guard's cost: the Users routes served with the gateway's guard (token
// verification and rate limiting, in memory or on Redis) or with it bypassed (a fixed
// caller, no limits), so `Benchmarks/guard` can load the same route both ways.
// A benchmark harness only: it is not part of the `shop` product.
//
// Environment: MODE (guarded | bypassed), DATA_DIR, PORT, REDIS_URL (optional).
// Prints `ready <port> <token>` once it listens.
import Foundation
import Gateway
import Hummingbird
import Logging
import Platform
import Redis
import ServiceLifecycle
import UserService

struct FixedCaller: RouterMiddleware {
    typealias Context = ShopRequestContext
    let principal: Principal

    func handle(
        _ request: Request,
        context: ShopRequestContext,
        next: (Request, ShopRequestContext) async throws -> Response
    ) async throws -> Response {
        var context = context
        context.principal = principal
        return try await next(request, context)
    }
}

let environment = ProcessInfo.processInfo.environment
let mode = environment["MODE"] ?? "guarded"
let directory = environment["DATA_DIR"] ?? "/tmp/guard-cost"
let port = Int(environment["PORT"] ?? "0") ?? 0
LogSetup.bootstrap(format: .text, level: .notice)
let logger = Logger(label: "guard-cost")

try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
let database = try await SQLiteDatabase.open(path: directory + "/users.sqlite", logger: logger)
let tokens = AccessTokens(keys: try SigningKeySet.loadOrCreate(path: directory + "/keys.pem"))
let users = UserService(database: database, tokens: tokens, passwordCost: 4)
try await users.migrate(logger: logger)
_ = try await users.bootstrapAdmin(email: "bench@example.com", name: "Bench", password: "benchmark-password")
// A fresh folder: the admin just made is user 1.
let principal = Principal(userID: 1, role: .admin, tokenID: "bench")
let token = try tokens.issue(userID: principal.userID, role: principal.role, now: Date()).token

let router: Router<ShopRequestContext>
var redis: RedisClient?
switch mode {
case "bypassed":
    router = EdgeRouter.make(
        health: [],
        decorators: [SecurityHeadersMiddleware(trustedProxies: []), CORSAllowListMiddleware(allowedOrigins: [])]
    ) { api in
        users.addRoutes(to: api.group().add(middleware: FixedCaller(principal: principal)))
    }
default:
    var configuration = GuardConfiguration()
    configuration.defaultPolicy = RateLimitPolicy(name: "default", limit: 1_000_000_000, window: .seconds(60))
    // As ShopSystem wires them: rate limits and ended sessions in Redis, or both in memory.
    let store: any RateLimitStore
    let cutoffs: any SessionCutoffs
    if let url = environment["REDIS_URL"] {
        let client = RedisClient(.init(url: try RedisURL(url)), logger: logger)
        redis = client
        store = RedisRateLimitStore(redis: client)
        cutoffs = RedisSessionCutoffs(redis: client)
    } else {
        store = InMemoryRateLimitStore()
        cutoffs = InMemorySessionCutoffs()
    }
    router = Gateway.makeRouter(health: [], tokens: tokens, sessionCutoffs: cutoffs, rateLimits: store, configuration: configuration) { api in
        users.addRoutes(to: api)
    }
}

let app = Application(
    router: router,
    configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: nil),
    onServerRunning: { channel in
        FileHandle.standardOutput.write(Data("ready \(channel.localAddress?.port ?? 0) \(token)\n".utf8))
    },
    logger: logger
)
let group = ServiceGroup(
    configuration: .init(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
)
try await group.run()
redis?.shutdown()
