import HTTPTypes
public import Hummingbird
public import Platform

/// Security headers on every response; `Strict-Transport-Security` when the request
/// reached a trusted proxy over TLS.
public struct SecurityHeadersMiddleware: RouterMiddleware {
    public typealias Context = ShopRequestContext
    let trustedProxies: TrustedProxies

    public init(trustedProxies: TrustedProxies) {
        self.trustedProxies = trustedProxies
    }

    public func handle(
        _ request: Request,
        context: ShopRequestContext,
        next: (Request, ShopRequestContext) async throws -> Response
    ) async throws -> Response {
        var response = try await next(request, context)
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[.xFrameOptions] = "DENY"
        response.headers[.referrerPolicy] = "no-referrer"
        if let peer = context.remoteAddress?.ipAddress, trustedProxies.contains(peer),
            request.headers[.xForwardedProto]?.lowercased() == "https"
        {
            response.headers[.strictTransportSecurity] = "max-age=31536000; includeSubDomains"
        }
        return response
    }
}

/// CORS for an allow-list of origins: preflights answered here, and the headers a
/// browser needs on every response to an allowed origin.
public struct CORSAllowListMiddleware: RouterMiddleware {
    public typealias Context = ShopRequestContext
    let allowedOrigins: Set<String>

    static let methods = "GET, POST, PUT, PATCH, DELETE"
    static let requestHeaders = "Authorization, Content-Type, Idempotency-Key, If-Match, If-None-Match, X-Cart-Token, X-Request-ID"
    static let exposedHeaders =
        "X-Request-ID, RateLimit, RateLimit-Policy, Retry-After, Location, Link, ETag, Idempotent-Replayed"

    public init(allowedOrigins: Set<String>) {
        self.allowedOrigins = allowedOrigins
    }

    public func handle(
        _ request: Request,
        context: ShopRequestContext,
        next: (Request, ShopRequestContext) async throws -> Response
    ) async throws -> Response {
        guard let origin = request.headers[.origin], allowedOrigins.contains(origin) else {
            var response = try await next(request, context)
            if !allowedOrigins.isEmpty { response.headers.append(HTTPField(name: .vary, value: "Origin")) }
            return response
        }
        if request.method == .options, request.headers[.accessControlRequestMethod] != nil {
            return Response(
                status: .noContent,
                headers: [
                    .accessControlAllowOrigin: origin,
                    .accessControlAllowMethods: Self.methods,
                    .accessControlAllowHeaders: Self.requestHeaders,
                    .accessControlMaxAge: "600",
                    .vary: "Origin",
                ]
            )
        }
        var response = try await next(request, context)
        response.headers[.accessControlAllowOrigin] = origin
        response.headers[.accessControlExposeHeaders] = Self.exposedHeaders
        // Added, not set: a route may vary on other headers too (Authorization).
        response.headers.append(HTTPField(name: .vary, value: "Origin"))
        return response
    }
}

extension HTTPField.Name {
    static let xContentTypeOptions = HTTPField.Name("X-Content-Type-Options")!
    static let xFrameOptions = HTTPField.Name("X-Frame-Options")!
    static let referrerPolicy = HTTPField.Name("Referrer-Policy")!
}
