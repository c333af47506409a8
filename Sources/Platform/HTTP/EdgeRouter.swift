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
    ///   - metrics: where request counts and durations go; served at `/metrics`.
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
        router.add(middleware: AccessLogMiddleware(metrics: metrics))
        for decorator in decorators { router.add(middleware: decorator) }
        router.add(middleware: ErrorMiddleware())
        if !guards.isEmpty {
            for guardMiddleware in guards { router.add(middleware: guardMiddleware) }
            router.add(middleware: ErrorMiddleware())
        }
        router.get("/health/live") { _, _ in
            try JSONResponse.success(HealthReport(status: "live", checks: []), headers: [.cacheControl: "no-store"])
        }
        router.get("/health/ready") { _, _ in
            let results = await HealthCheck.run(health, timeout: .seconds(2))
            let failed = results.filter { $0.1 != nil }
            guard failed.isEmpty else {
                throw APIError(failed.map { Problem(.upstreamUnavailable, "\($0.0) is not answering") })
            }
            let checks = results.map { HealthStatus(name: $0.0, status: "up") }
            return try JSONResponse.success(HealthReport(status: "ready", checks: checks), headers: [.cacheControl: "no-store"])
        }
        if let metrics {
            router.get("/metrics") { _, _ in
                Response(
                    status: .ok,
                    headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8", .cacheControl: "no-store"],
                    body: .init(byteBuffer: ByteBuffer(bytes: metrics.exposition())))
            }
        }
        assets(router)
        routes(router.group("/api/v1"))
        return router
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
        let response = try await next(request, context)
        let elapsed = ContinuousClock.now - start
        metrics?.recordRequest(
            method: request.method.rawValue, route: context.endpointPath ?? Self.route(request.uri.path, status: response.status.code),
            status: Int(response.status.code), duration: elapsed)
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

    /// The label of a request no route matched (the router's template is the label
    /// otherwise): ids (numbers, `me`) folded into `{id}`, and every unknown path into
    /// one label, so the number of series stays bounded.
    static func route(_ path: String, status: Int) -> String {
        guard status != 404 else { return "not_found" }
        return path.split(separator: "/", omittingEmptySubsequences: false).map { segment in
            segment == "me" || (!segment.isEmpty && segment.utf8.allSatisfy { (48...57).contains($0) }) ? "{id}" : segment
        }.joined(separator: "/")
    }
}
