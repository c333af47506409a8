import Hummingbird

/// Answers 405 `METHOD_NOT_ALLOWED` with `Allow` when a request names a known path with a
/// method no route serves there; other unmatched requests stay 404.
///
/// Added after every route, so it only ever sees requests the router did not match.
struct MethodNotAllowedMiddleware: RouterMiddleware {
    typealias Context = ShopRequestContext

    /// Each route's path segments (`nil` for a parameter) with the methods served there.
    private let routes: [(segments: [Substring?], methods: [HTTPRequest.Method])]

    init(routes: [Router<ShopRequestContext>.RouteDescription]) {
        var byPath: [String: [HTTPRequest.Method]] = [:]
        for route in routes { byPath[route.path.description, default: []].append(route.method) }
        self.routes = byPath.map { path, methods in
            let segments = path.split(separator: "/").map { $0.contains("{") || $0 == "*" ? nil : Optional($0) }
            return (segments, methods.sorted { $0.rawValue < $1.rawValue })
        }
    }

    func handle(
        _ request: Request,
        context: ShopRequestContext,
        next: (Request, ShopRequestContext) async throws -> Response
    ) async throws -> Response {
        guard context.endpointPath == nil else { return try await next(request, context) }
        let segments = request.uri.path.split(separator: "/")
        let allowed = routes.filter { route in
            route.segments.count == segments.count && zip(route.segments, segments).allSatisfy { $0 == nil || $0 == $1 }
        }.flatMap(\.methods)
        guard !allowed.isEmpty, !allowed.contains(request.method) else { return try await next(request, context) }
        let allow = Set(allowed.map(\.rawValue)).sorted().joined(separator: ", ")
        throw APIError(
            .methodNotAllowed,
            "\(RoutePath.methodLabel(request.method)) is not served here; use \(allow)",
            headers: [.allow: allow]
        )
    }
}
