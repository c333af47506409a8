public import Hummingbird
public import Platform

/// The public edge: one router with request ids, the error envelope, security headers,
/// CORS, the guard (tokens and rate limits), health, the OpenAPI document, the public
/// signing keys, and every service's routes under `/api/v1`.
public enum Gateway {
    /// The OpenAPI document: the contract that the tests hold the server to.
    public static var openAPIDocument: [UInt8] { PackageResources.openapi_json }

    /// The router for one process.
    /// - Parameters:
    ///   - health: what `/health/ready` asks.
    ///   - tokens: verifies bearer tokens; its public keys are served as the JWKS.
    ///   - sessionCutoffs: when users' sessions ended; tokens issued before are refused.
    ///   - rateLimits: where request counts are kept.
    ///   - configuration: limits, proxies and origins.
    ///   - metrics: what requests and the guard record; served at `/metrics`.
    ///   - mount: adds the services' routes to the `/api/v1` group.
    public static func makeRouter(
        health: [HealthCheck],
        tokens: AccessTokens,
        sessionCutoffs: (any SessionCutoffs)? = nil,
        rateLimits: any RateLimitStore,
        configuration: GuardConfiguration,
        metrics: ShopMetrics? = nil,
        mount: (RouterGroup<ShopRequestContext>) -> Void,
        assets: (Router<ShopRequestContext>) -> Void = { _ in }
    ) -> Router<ShopRequestContext> {
        let keys = tokens.verification
        return EdgeRouter.make(
            health: health,
            metrics: metrics,
            decorators: [
                SecurityHeadersMiddleware(trustedProxies: configuration.trustedProxies),
                CORSAllowListMiddleware(allowedOrigins: configuration.allowedOrigins),
            ],
            guards: [EdgeGuard(tokens: tokens, cutoffs: sessionCutoffs, store: rateLimits, configuration: configuration, metrics: metrics)],
            assets: { router in
                router.get("/.well-known/jwks.json") { _, _ in
                    try JSONResponse.encoded(keys.jwks, status: .ok, headers: [.cacheControl: "public, max-age=300"])
                }
                assets(router)
            }
        ) { api in
            api.get("openapi.json") { _, _ in
                Response(
                    status: .ok,
                    headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "public, max-age=300"],
                    body: .init(byteBuffer: ByteBuffer(bytes: openAPIDocument))
                )
            }
            mount(api)
        }
    }
}
