import Crypto
import Foundation
public import Hummingbird

/// Lets a service-to-service call through only with `Authorization: Bearer <the shared
/// token>` (`INTERNAL_API_TOKEN`), compared as SHA-256 digests in constant time.
public struct ServiceTokenMiddleware: RouterMiddleware {
    public typealias Context = ShopRequestContext
    let expected: SHA256.Digest

    public init(token: String) {
        expected = SHA256.hash(data: Data(token.utf8))
    }

    public func handle(
        _ request: Request,
        context: ShopRequestContext,
        next: (Request, ShopRequestContext) async throws -> Response
    ) async throws -> Response {
        let presented = request.headers[.authorization].flatMap { value -> String? in
            value.hasPrefix("Bearer ") ? String(value.dropFirst(7)) : nil
        }
        // Equal-length digests compared by the digest's own constant-time ==.
        guard let presented, SHA256.hash(data: Data(presented.utf8)) == expected else {
            throw APIError(.unauthenticated, "A service token is required")
        }
        return try await next(request, context)
    }
}
