import AsyncHTTPClient
import Gateway
import Hummingbird
import Logging
import NotificationService
import OrderService
import PaymentService
import Platform
import ProductService
import ServiceLifecycle
import UserService

/// The gateway alone (`--service gateway`): the services it sends requests to, which of
/// them serves each route, and how it reaches them.
extension ShopSystem {
    /// The upstreams, route table and proxy of the gateway alone; `nil` in other modes.
    static func gatewayParts(
        _ settings: Settings,
        metrics: ShopMetrics
    ) throws -> (upstreams: [Upstream], routeTable: GatewayRouteTable, proxy: ReverseProxy, client: HTTPClient)? {
        guard settings.service == .gateway, settings.purpose == .serve else { return nil }
        guard let token = settings.internalToken else {
            throw ConfigurationError(variable: "INTERNAL_API_TOKEN", reason: "is required with --service gateway")
        }
        let routeTable = try gatewayRouteTable()
        let upstreams = ServiceName.upstreams.compactMap { upstream in
            settings.upstreams[upstream.service].map { Upstream(name: upstream.service.rawValue, addresses: $0, metrics: metrics) }
        }
        var configuration = ProxyConfiguration(token: token)
        configuration.timeouts = settings.gatewayTimeouts
        do {
            try settings.gatewayTimeouts.check(against: routeTable)
        } catch {
            throw ConfigurationError(variable: "GATEWAY_ROUTE_TIMEOUTS", reason: error.reason)
        }
        configuration.healthInterval = settings.gatewayHealthInterval
        configuration.trustedProxies = settings.guardConfiguration.trustedProxies
        let client = ReverseProxy.makeClient(timeout: settings.gatewayTimeouts.longest)
        return (upstreams, routeTable, ReverseProxy(client: client, configuration: configuration, metrics: metrics), client)
    }

    /// Which service serves each public route: the document's routes, each owned by the
    /// service with the longest prefix of its path.
    static func gatewayRouteTable() throws -> GatewayRouteTable {
        try GatewayRouteTable(
            document: Gateway.openAPIDocument,
            owners: [
                .init(upstream: ServiceName.users.rawValue, prefixes: UserService.publicPathPrefixes),
                .init(upstream: ServiceName.products.rawValue, prefixes: ProductService.publicPathPrefixes),
                .init(upstream: ServiceName.orders.rawValue, prefixes: OrderService.publicPathPrefixes),
                .init(
                    upstream: ServiceName.payments.rawValue,
                    prefixes: PaymentService.publicPathPrefixes,
                    undocumented: [(.post, PaymentService.providerWebhookPath)]
                ),
                .init(upstream: ServiceName.notifications.rawValue, prefixes: NotificationService.publicPathPrefixes),
            ]
        )
    }

    /// The gateway alone: the edge, with every route sent to an instance of its service;
    /// `nil` in other modes. Its readiness asks `health` (the drain on a stop), never its
    /// upstreams: one service down must not take every gateway out of its balancer.
    func gatewayRouter(health: [HealthCheck]) -> Router<ShopRequestContext>? {
        guard let routeTable, let proxy else { return nil }
        return Gateway.makeProxyRouter(
            table: routeTable,
            upstreams: Dictionary(uniqueKeysWithValues: upstreams.map { ($0.name, $0) }),
            proxy: proxy,
            health: health,
            tokens: tokens,
            sessionCutoffs: sessionCutoffs,
            rateLimits: rateLimits,
            configuration: settings.guardConfiguration,
            metrics: metrics
        )
    }

    /// The gateway's health checks of its upstreams' instances, every
    /// `GATEWAY_HEALTH_INTERVAL_MS`; none in other modes.
    func upstreamHealthChecks(logger: Logger) -> [any Service] {
        guard let proxyClient, !upstreams.isEmpty else { return [] }
        let checks = UpstreamHealthChecks(
            upstreams: upstreams,
            client: proxyClient,
            timeout: min(max(settings.gatewayHealthInterval, .seconds(1)), .seconds(5))
        )
        return [PeriodicJob("upstream health checks", every: settings.gatewayHealthInterval, logger: logger) { await checks.checkAll() }]
    }

}
