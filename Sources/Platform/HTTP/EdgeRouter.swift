public import Hummingbird
import Logging

/// Builds the router every process serves: request ids, the error envelope, access logs
/// and health endpoints first, then the routes a caller adds under `/api/v1`.
public enum EdgeRouter {
    public typealias Middleware = any MiddlewareProtocol<Request, Response, ShopRequestContext>

    /// - Parameters:
    ///   - health: what `/health/ready` asks.
    ///   - decorators: middlewares that see every response, errors included, after they
    ///     are rendered (security headers, CORS).
    ///   - guards: middlewares in front of the routes whose own errors are rendered, and
    ///     which see every route's response, errors included (authentication, rate limits).
    ///   - metrics: where request counts and durations go (served at `/metrics` by the
    ///     internal listener, ``makeInternal(health:metrics:routes:)``).
    ///   - assets: adds unversioned public routes (static content such as images).
    ///   - routes: adds the versioned routes to the `/api/v1` group.
    public static func make(
        health: [HealthCheck],
        metrics: ShopMetrics? = nil,
        decorators: [Middleware] = [],
        guards: [Middleware] = [],
        assets: (Router<ShopRequestContext>) -> Void = { _ in },
        routes: (RouterGroup<ShopRequestContext>) -> Void
    ) -> Router<ShopRequestContext> {
        let router = Router(context: ShopRequestContext.self)
        router.add(middleware: RequestIDMiddleware())
        router.add(middleware: RequestTracingMiddleware())
        router.add(middleware: AccessLogMiddleware(metrics: metrics))
        for decorator in decorators { router.add(middleware: decorator) }
        router.add(middleware: ErrorMiddleware())
        if !guards.isEmpty {
            for guardMiddleware in guards { router.add(middleware: guardMiddleware) }
            router.add(middleware: ErrorMiddleware())
        }
        addHealth(health, metrics: metrics, to: router)
        assets(router)
        routes(router.group("/api/v1"))
        router.add(middleware: MethodNotAllowedMiddleware(routes: router.routes))
        return router
    }

    /// The router of the internal listener (`INTERNAL_PORT`): health, `/metrics` and the
    /// service-to-service routes `routes` adds, never reachable on the public port.
    public static func makeInternal(
        health: [HealthCheck],
        metrics: ShopMetrics,
        routes: (Router<ShopRequestContext>) -> Void
    ) -> Router<ShopRequestContext> {
        let router = Router(context: ShopRequestContext.self)
        router.add(middleware: RequestIDMiddleware())
        router.add(middleware: RequestTracingMiddleware())
        router.add(middleware: AccessLogMiddleware(metrics: metrics))
        router.add(middleware: ErrorMiddleware())
        addHealth(health, metrics: metrics, to: router)
        router.get("/metrics") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8", .cacheControl: "no-store"],
                body: .init(byteBuffer: ByteBuffer(bytes: metrics.exposition()))
            )
        }
        routes(router)
        router.add(middleware: MethodNotAllowedMiddleware(routes: router.routes))
        return router
    }

    private static func addHealth(_ health: [HealthCheck], metrics: ShopMetrics?, to router: Router<ShopRequestContext>) {
        router.get("/health/live") { _, _ in
            try JSONResponse.success(HealthReport(status: "live", checks: []), headers: [.cacheControl: "no-store"])
        }
        router.get("/health/ready") { _, _ in
            let results = await HealthCheck.run(health, timeout: .seconds(2))
            for (check, (_, error)) in zip(health, results) { metrics?.recordHealthCheck(check.name, up: error == nil) }
            let failed = zip(health, results).filter { $0.0.required && $0.1.1 != nil }
            guard failed.isEmpty else {
                throw APIError(failed.map { Problem(.upstreamUnavailable, "\($0.0.name) is not answering") })
            }
            let checks = results.map { HealthStatus(name: $0.0, status: $0.1 == nil ? "up" : "down") }
            return try JSONResponse.success(HealthReport(status: "ready", checks: checks), headers: [.cacheControl: "no-store"])
        }
    }
}

/// Logs one line per request, at the end, with its status and duration, and counts it.
struct AccessLogMiddleware: RouterMiddleware {
    typealias Context = ShopRequestContext
    let metrics: ShopMetrics?

    func handle(
        _ request: Request,
        context: ShopRequestContext,
        next: (Request, ShopRequestContext) async throws -> Response
    ) async throws -> Response {
        let start = ContinuousClock.now
        // The head is in; the body may still be arriving.
        context.logger.debug("request started", metadata: ["method": "\(request.method)", "path": "\(request.uri.path)"])
        let response = try await next(request, context)
        let elapsed = ContinuousClock.now - start
        metrics?.recordRequest(
            method: RoutePath.methodLabel(request.method),
            route: context.endpointPath ?? RoutePath.unmatched,
            status: Int(response.status.code),
            duration: elapsed
        )
        if context.logger.logLevel <= .info {
            let milliseconds = Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000
            context.logger.info(
                "request",
                metadata: [
                    "method": "\(request.method)",
                    "path": "\(request.uri.path)",
                    "status": "\(response.status.code)",
                    "duration_ms": "\((milliseconds * 100).rounded() / 100)",
                ]
            )
        }
        return response
    }
}
