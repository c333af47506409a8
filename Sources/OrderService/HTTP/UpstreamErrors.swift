import Hummingbird
import PaymentAPI
import Platform
import ProductAPI
import UserAPI

/// What Orders answers when a service it calls fails: in its own words, never the other
/// service's (a reservation a client never named, a 404 for a product checkout read) and
/// never a 500. Unreachable services are `UPSTREAM_UNAVAILABLE`.
struct UpstreamErrorMiddleware: RouterMiddleware {
    typealias Context = ShopRequestContext

    func handle(
        _ request: Request,
        context: ShopRequestContext,
        next: (Request, ShopRequestContext) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as CatalogClientError {
            throw Self.unavailable("Products", error)
        } catch let error as InventoryClientError {
            throw Self.unavailable("Products", error)
        } catch let error as UserClientError {
            throw Self.unavailable("Users", error)
        } catch PaymentError.unavailable(let reason) {
            throw APIError(.upstreamUnavailable, "Payments is unavailable (\(reason)); the order waits and is settled when it answers")
        } catch PaymentError.conflict(let message) {
            throw APIError(.conflict, "Payments refused: \(message)")
        } catch PaymentError.notFound {
            throw APIError(.conflict, "Payments has no payment for this order")
        } catch let error as InventoryError {
            throw APIError(.conflict, "Stock could not be reserved: \(error)")
        }
    }

    static func unavailable(_ service: String, _ error: any Error) -> APIError {
        APIError(.upstreamUnavailable, "\(service) is unavailable; try again shortly")
    }
}
