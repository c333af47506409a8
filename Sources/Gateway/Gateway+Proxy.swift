public import Hummingbird
public import Platform

extension Gateway {
    /// The router of the gateway in front of services in other processes: the same edge as
    /// ``makeRouter(health:tokens:sessionCutoffs:rateLimits:configuration:metrics:mount:assets:)``,
    /// with every route of `table` sent to an instance of its service by `proxy`.
    ///
    /// - Precondition: `upstreams` has every service `table` names.
    public static func makeProxyRouter(
        table: GatewayRouteTable,
        upstreams: [String: Upstream],
        proxy: ReverseProxy,
        health: [HealthCheck],
        tokens: AccessTokens,
        sessionCutoffs: (any SessionCutoffs)? = nil,
        rateLimits: any RateLimitStore,
        configuration: GuardConfiguration,
        metrics: ShopMetrics? = nil
    ) -> Router<ShopRequestContext> {
        makeRouter(
            health: health,
            tokens: tokens,
            sessionCutoffs: sessionCutoffs,
            rateLimits: rateLimits,
            configuration: configuration,
            metrics: metrics,
            mount: { _ in },
            assets: { router in
                for route in table.routes {
                    guard let upstream = upstreams[route.upstream] else { preconditionFailure("no upstream \(route.upstream) for \(route)") }
                    router.on(RouterPath(route.path), method: route.method) { request, context in
                        try await proxy.forward(request, to: upstream, route: route, context: context)
                    }
                }
            }
        )
    }
}
