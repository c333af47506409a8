public import AsyncHTTPClient
public import Foundation
import InternalHTTP
import NIOCore
import NIOHTTP1
public import ServiceContract

/// The body of `POST /internal/v1/reservations`.
public struct ReservationRequest: JSONRequestBody, Encodable, Hashable {
    public var id: String?
    public var lines: [ReservationLineBody]?
    public var expiresInSeconds: Int?

    public init(id: String, lines: [ReservationLine], expiresInSeconds: Int) {
        self.id = id
        self.lines = lines.map { ReservationLineBody(productID: $0.productID, quantity: $0.quantity) }
        self.expiresInSeconds = expiresInSeconds
    }

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case id, lines
        case expiresInSeconds = "expires_in_seconds"
    }
}

/// One line of a reservation on the wire.
public struct ReservationLineBody: Codable, Sendable, Hashable {
    public var productID: Int64
    public var quantity: Int

    public init(productID: Int64, quantity: Int) {
        self.productID = productID
        self.quantity = quantity
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case productID = "product_id"
        case quantity
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        productID = try container.decode(Int64.self, forKey: .productID)
        quantity = try container.decode(Int.self, forKey: .quantity)
    }
}

/// A reservation on the wire.
public struct ReservationResource: Codable, Sendable, Hashable {
    public var id: String
    public var state: String
    public var lines: [ReservationLineBody]
    public var expiresAt: Date

    public init(_ reservation: Reservation) {
        id = reservation.id
        state = reservation.state.rawValue
        lines = reservation.lines.map { ReservationLineBody(productID: $0.productID, quantity: $0.quantity) }
        expiresAt = reservation.expiresAt
    }

    enum CodingKeys: String, CodingKey {
        case id, state, lines
        case expiresAt = "expires_at"
    }

    var reservation: Reservation? {
        guard let state = Reservation.State(rawValue: state) else { return nil }
        return Reservation(
            id: id,
            lines: lines.map { ReservationLine(productID: $0.productID, quantity: $0.quantity) },
            state: state,
            expiresAt: expiresAt
        )
    }
}

/// ``InventoryClient`` over HTTP, for an order service in another process than Products:
/// the internal reservation API, authenticated by a token the two services share.
///
/// Every call carries the reservation id, so retrying one after a timeout is safe: a
/// reservation made by the lost attempt is answered, not made twice. Calls are bounded
/// by `timeout` and carry the caller's request id.
///
/// Calls go through a ``CircuitBreaker``: once Products has been unreachable, timed out
/// or answered 5xx `failureThreshold` times in a row, calls fail at once with
/// ``InventoryClientError/unavailable(_:)`` until a trial call succeeds. Refusals
/// (out of stock, unknown product, conflict) show Products is up and do not count.
public struct HTTPInventoryClient: InventoryClient {
    let transport: InternalHTTPTransport
    /// The breaker every call of this client goes through.
    public var breaker: CircuitBreaker { transport.breaker }

    /// - Parameters:
    ///   - baseURL: where a Products instance listens, e.g. `http://products:8080`.
    ///   - token: the `INTERNAL_API_TOKEN` Products was started with.
    ///   - breaker: shared by the copies of this client; by default one of its own, named
    ///     `products`, that no metrics see (pass one made by `ShopMetrics.circuitBreaker`).
    public init(
        baseURL: String,
        token: String,
        httpClient: HTTPClient = OutgoingCall.client,
        timeout: TimeAmount = .seconds(2),
        requestID: @escaping @Sendable () -> String? = { RequestIdentifier.current },
        breaker: CircuitBreaker = CircuitBreaker(name: "products")
    ) {
        transport = InternalHTTPTransport(
            baseURL: baseURL,
            token: token,
            httpClient: httpClient,
            timeout: timeout,
            requestID: requestID,
            breaker: breaker
        )
    }

    public func reserve(id: String, lines: [ReservationLine], expiresIn: Duration) async throws -> Reservation {
        let body = ReservationRequest(id: id, lines: lines, expiresInSeconds: try InventoryError.holdSeconds(expiresIn))
        return try await call("/internal/v1/reservations", id: id, body: try JSONEncoder().encode(body), lines: lines)
    }

    public func commit(id: String) async throws -> Reservation {
        try await call("/internal/v1/reservations/\(InternalHTTPTransport.escaped(id))/commit", id: id, body: nil, lines: [])
    }

    public func release(id: String) async throws -> Reservation {
        try await call("/internal/v1/reservations/\(InternalHTTPTransport.escaped(id))/release", id: id, body: nil, lines: [])
    }

    public func restock(id: String) async throws -> Reservation {
        try await call("/internal/v1/reservations/\(InternalHTTPTransport.escaped(id))/restock", id: id, body: nil, lines: [])
    }

    private func call(_ path: String, id: String, body: Data?, lines: [ReservationLine]) async throws -> Reservation {
        let (status, data) = try await transport.send(.POST, path, body: body) { InventoryClientError.unavailable($0) }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        switch status {
        case 200, 201:
            guard let reservation = try? decoder.decode(Envelope<ReservationResource>.self, from: data).data.reservation else {
                throw InventoryClientError.unexpectedResponse(status: status, body: String(decoding: data, as: UTF8.self))
            }
            return reservation
        default:
            let problem = (try? decoder.decode(ErrorBody.self, from: data))?.error
            throw Self.inventoryError(status: status, problem: problem, lines: lines, id: id, body: data)
        }
    }

    /// The ``InventoryError`` the server's answer stands for; out-of-stock and unknown
    /// products name the line (`lines[i]`) so the product is known here.
    static func inventoryError(status: Int, problem: ErrorBody.Problem?, lines: [ReservationLine], id: String, body: Data) -> any Error {
        let line = problem?.field.flatMap { field -> ReservationLine? in
            guard field.hasPrefix("lines["), field.hasSuffix("]"), let index = Int(field.dropFirst(6).dropLast()),
                lines.indices.contains(index)
            else { return nil }
            return lines[index]
        }
        switch (problem?.code, line) {
        case ("OUT_OF_STOCK", let line?): return InventoryError.outOfStock(productID: line.productID)
        case ("NOT_FOUND", let line?): return InventoryError.unknownProduct(productID: line.productID)
        case ("CONFLICT", let line?): return InventoryError.notForSale(productID: line.productID)
        case ("NOT_FOUND", nil): return InventoryError.reservationNotFound(id: id)
        case ("CONFLICT", nil): return InventoryError.conflict(problem?.message ?? "conflict")
        case ("VALIDATION_ERROR", _) where problem?.field == "expires_in_seconds": return InventoryError.invalidExpiry(problem?.message ?? "invalid")
        case ("VALIDATION_ERROR", _): return InventoryError.invalidLines(problem?.message ?? "invalid")
        default: return InventoryClientError.unexpectedResponse(status: status, body: String(decoding: body, as: UTF8.self))
        }
    }

    struct Envelope<Resource: Decodable>: Decodable {
        let data: Resource
    }

    struct ErrorBody: Decodable {
        struct Problem: Decodable {
            let code: String
            let message: String
            let field: String?
        }

        let error: Problem
    }
}

/// Why a call to the Products service failed before it could answer.
public enum InventoryClientError: Error, Sendable, Hashable {
    /// Not reachable, timed out, or failed on its side; a retry with the same id is safe.
    case unavailable(String)
    case unexpectedResponse(status: Int, body: String)
}
