import AsyncHTTPClient
import Foundation
import Gateway
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import Platform
import ServiceLifecycle
import TestSupport

/// A gateway in front of fake instances of one service that owns every route, on a free
/// loopback port, called over real HTTP.
struct GatewayHarness: Sendable {
    let port: Int
    let upstream: Upstream
    let checks: UpstreamHealthChecks
    let metrics: ShopMetrics

    static let token = "gateway-token-for-tests-0123456789abcdef"

    /// Limits no test reaches unless it means to.
    static var generousLimits: GuardConfiguration {
        var configuration = GuardConfiguration()
        configuration.defaultPolicy = RateLimitPolicy(name: "default", limit: 100_000, window: .seconds(60))
        configuration.credentialPolicy = RateLimitPolicy(name: "credentials", limit: 100_000, window: .seconds(60))
        return configuration
    }

    /// Runs a gateway in front of `addresses` (each `http://127.0.0.1:port`) for `body`.
    static func with(
        _ addresses: [String],
        configuration: GuardConfiguration = GatewayHarness.generousLimits,
        rateLimits: any RateLimitStore = InMemoryRateLimitStore(),
        timeout: Duration = .seconds(30),
        timeouts: RouteTimeouts? = nil,
        _ body: (GatewayHarness) async throws -> Void
    ) async throws {
        let metrics = ShopMetrics()
        let upstream = Upstream(
            name: "shop",
            addresses: try addresses.map { try UpstreamAddress(parsing: $0) },
            ejection: EjectionPolicy(first: .seconds(60), longest: .seconds(120)),
            metrics: metrics
        )
        let timeouts = timeouts ?? .uniform(timeout)
        let client = ReverseProxy.makeClient(timeout: timeouts.longest)
        var proxy = ProxyConfiguration(token: token)
        proxy.timeouts = timeouts
        proxy.trustedProxies = configuration.trustedProxies
        proxy.healthInterval = .seconds(2)
        let table = try GatewayRouteTable(
            document: Gateway.openAPIDocument,
            owners: [.init(upstream: "shop", prefixes: ["/api/v1", "/images"])]
        )
        let router = Gateway.makeProxyRouter(
            table: table,
            upstreams: ["shop": upstream],
            proxy: ReverseProxy(client: client, configuration: proxy, metrics: metrics),
            health: [],
            tokens: GuardTests.tokens,
            rateLimits: rateLimits,
            configuration: configuration,
            metrics: metrics
        )
        let checks = UpstreamHealthChecks(upstreams: [upstream], client: client, timeout: .seconds(5))
        do {
            try await withServer(router) { port in
                try await body(GatewayHarness(port: port, upstream: upstream, checks: checks, metrics: metrics))
            }
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }

    /// Serves `router` on a free loopback port for `body`, then stops gracefully.
    static func withServer(_ router: Router<ShopRequestContext>, _ body: (Int) async throws -> Void) async throws {
        try await RouterServer.serve(router, body)
    }

    /// Calls the gateway and reads the whole answer.
    func request(
        _ method: NIOHTTP1.HTTPMethod = .GET,
        _ path: String,
        headers: [(String, String)] = [],
        body: ByteBuffer? = nil
    ) async throws -> (status: Int, headers: HTTPHeaders, body: ByteBuffer) {
        try await Self.request(port: port, method, path, headers: headers, body: body)
    }

    static func request(
        port: Int,
        _ method: NIOHTTP1.HTTPMethod = .GET,
        _ path: String,
        headers: [(String, String)] = [],
        body: ByteBuffer? = nil
    ) async throws -> (status: Int, headers: HTTPHeaders, body: ByteBuffer) {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(body) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        let collected = try await response.body.collect(upTo: 64 << 20)
        return (Int(response.status.code), response.headers, collected)
    }

    /// A loopback address where nothing listens: connections are refused.
    static func refusingAddress() throws -> String {
        "http://127.0.0.1:\(try freePort())"
    }

    /// The value of a series in `/metrics`' exposition, when it is there.
    func metric(_ series: String) -> Double? {
        let text = String(decoding: metrics.exposition(), as: UTF8.self)
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }
}
