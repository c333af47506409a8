import Foundation
import Hummingbird
import Platform
import ProductAPI

/// `/internal/v1/reservations`: the inventory calls of checkout, for an order service in
/// another process (``HTTPInventoryClient``). Not part of the public API: the gateway does
/// not route it, and every call must carry the token the services share.
struct InternalRoutes: Sendable {
    let inventory: any InventoryClient
    let catalog: any CatalogClient
    let token: String

    func add(to router: Router<ShopRequestContext>) {
        let reservations = router.group("/internal/v1/reservations").add(middleware: ServiceTokenMiddleware(token: token))
        reservations.post(use: reserve)
        reservations.post("{id}/commit", use: commit)
        reservations.post("{id}/release", use: release)
        reservations.post("{id}/restock", use: restock)
        router.group("/internal/v1/products").add(middleware: ServiceTokenMiddleware(token: token)).get(use: products)
    }

    /// `GET /internal/v1/products?ids=1,2,3`: the products an order service reads carts
    /// with (unknown ids are left out), at most ``HTTPCatalogClient/maxIDs`` at once.
    @Sendable func products(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let raw = request.uri.queryParameters.get("ids") ?? ""
        let parts = raw.split(separator: ",", omittingEmptySubsequences: false)
        let ids = parts.compactMap { Int64($0) }.filter { $0 > 0 }
        guard !raw.isEmpty, ids.count == parts.count, ids.count <= HTTPCatalogClient.maxIDs else {
            throw APIError.validation("Must be 1 to \(HTTPCatalogClient.maxIDs) positive integer ids, comma-separated", field: "ids")
        }
        return try JSONResponse.success(try await catalog.products(ids: ids), headers: [.cacheControl: "no-store"])
    }

    @Sendable func reserve(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let body = try await JSONBody.decode(ReservationRequest.self, from: request)
        var validation = Validation()
        let id = validation.required("id", body.id) { (id: String) throws(InvalidValue) in
            guard Self.isValid(id) else { throw InvalidValue("Must be 1 to 128 visible ASCII characters") }
            return id
        }
        let lines = validation.required("lines", body.lines)
        let expiry = validation.required("expires_in_seconds", body.expiresInSeconds) { (seconds: Int) throws(InvalidValue) in
            guard (1...86_400).contains(seconds) else { throw InvalidValue("Must be from 1 to 86400") }
            return seconds
        }
        let (reservationID, lineBodies, seconds) = try validation.check(id, lines, expiry)
        let reservationLines = lineBodies.map { ReservationLine(productID: $0.productID, quantity: $0.quantity) }
        do {
            let reservation = try await inventory.reserve(id: reservationID, lines: reservationLines, expiresIn: .seconds(seconds))
            return try JSONResponse.success(ReservationResource(reservation), status: .created, headers: [.cacheControl: "no-store"])
        } catch let error as InventoryError {
            throw Self.naming(error, in: reservationLines)
        }
    }

    @Sendable func commit(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let reservation = try await inventory.commit(id: try Self.id(context))
        return try JSONResponse.success(ReservationResource(reservation), headers: [.cacheControl: "no-store"])
    }

    @Sendable func release(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let reservation = try await inventory.release(id: try Self.id(context))
        return try JSONResponse.success(ReservationResource(reservation), headers: [.cacheControl: "no-store"])
    }

    @Sendable func restock(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let reservation = try await inventory.restock(id: try Self.id(context))
        return try JSONResponse.success(ReservationResource(reservation), headers: [.cacheControl: "no-store"])
    }

    private static func id(_ context: ShopRequestContext) throws -> String {
        guard let id = context.parameters.get("id")?.removingPercentEncoding, isValid(id) else {
            throw APIError.validation("Must be 1 to 128 visible ASCII characters", field: "id")
        }
        return id
    }

    private static func isValid(_ id: String) -> Bool {
        (1...128).contains(id.utf8.count) && id.utf8.allSatisfy { (0x21...0x7E).contains($0) }
    }

    /// The error with the line it is about as its field (`lines[2]`), so the caller knows
    /// which product without parsing a message.
    static func naming(_ error: InventoryError, in lines: [ReservationLine]) -> any Error {
        func field(_ product: Int64) -> String? { lines.firstIndex { $0.productID == product }.map { "lines[\($0)]" } }
        switch error {
        case .outOfStock(let product): return APIError(.outOfStock, "Not enough stock of product \(product)", field: field(product))
        case .unknownProduct(let product): return APIError(.notFound, "No product \(product)", field: field(product))
        case .notForSale(let product): return APIError(.conflict, "Product \(product) is not for sale", field: field(product))
        default: return error
        }
    }
}
