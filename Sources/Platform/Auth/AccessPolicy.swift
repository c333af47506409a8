public import Hummingbird

/// Who may call a route: declared where the route is added, checked here and nowhere else.
public struct AccessPolicy: Sendable, Hashable {
    /// `nil`: anyone with a valid token.
    let roles: Set<Role>?

    /// Any authenticated caller.
    public static let authenticated = AccessPolicy(roles: nil)

    /// Only callers with one of `roles`.
    public static func roles(_ roles: Role...) -> AccessPolicy { AccessPolicy(roles: Set(roles)) }

    /// Whether `principal` passes; throws `UNAUTHENTICATED` or `FORBIDDEN` otherwise.
    public func check(_ principal: Principal?) throws(APIError) -> Principal {
        guard let principal else { throw APIError.authenticationRequired }
        if let roles, !roles.contains(principal.role) {
            throw APIError(.forbidden, "Your role may not do this")
        }
        return principal
    }
}

extension APIError {
    /// A request that needs a bearer token came without one.
    public static var authenticationRequired: APIError {
        APIError(.unauthenticated, "Authentication is required", headers: [.wwwAuthenticate: "Bearer"])
    }
}

/// Enforces an ``AccessPolicy`` on the routes of a group.
struct AccessPolicyMiddleware: RouterMiddleware {
    typealias Context = ShopRequestContext
    let policy: AccessPolicy

    func handle(
        _ request: Request,
        context: ShopRequestContext,
        next: (Request, ShopRequestContext) async throws -> Response
    ) async throws -> Response {
        _ = try policy.check(context.principal)
        return try await next(request, context)
    }
}

extension RouterMethods where Context == ShopRequestContext {
    /// A group whose routes need a caller that passes `policy`.
    public func restricted(to policy: AccessPolicy) -> RouterGroup<ShopRequestContext> {
        group().add(middleware: AccessPolicyMiddleware(policy: policy))
    }
}

extension ShopRequestContext {
    /// The caller, who must be authenticated (`UNAUTHENTICATED` otherwise).
    public func requirePrincipal() throws(APIError) -> Principal {
        try AccessPolicy.authenticated.check(principal)
    }
}
