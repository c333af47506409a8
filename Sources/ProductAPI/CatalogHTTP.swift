public import AsyncHTTPClient
import Foundation
import InternalHTTP
import NIOCore
import NIOHTTP1
public import ServiceContract

/// ``CatalogClient`` over HTTP, for an order service in another process than Products:
/// `GET /internal/v1/products?ids=1,2,3` on Products' internal listener, with the token
/// the services share, behind a circuit breaker.
public struct HTTPCatalogClient: CatalogClient {
    let transport: InternalHTTPTransport
    /// The breaker every call of this client goes through.
    public var breaker: CircuitBreaker { transport.breaker }

    /// At most this many ids in one call (a cart's line limit).
    public static let maxIDs = 50

    public init(
        baseURL: String,
        token: String,
        httpClient: HTTPClient = OutgoingCall.client,
        timeout: TimeAmount = .seconds(2),
        requestID: @escaping @Sendable () -> String? = { RequestIdentifier.current },
        breaker: CircuitBreaker = CircuitBreaker(name: "products-catalog")
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

    public func products(ids: [Int64]) async throws -> [CatalogProduct] {
        let unique = Array(Set(ids)).sorted()
        var found: [CatalogProduct] = []
        // Asked in batches the server takes.
        for start in stride(from: 0, to: unique.count, by: Self.maxIDs) {
            let batch = unique[start..<min(start + Self.maxIDs, unique.count)].map(String.init).joined(separator: ",")
            let (status, body) = try await transport.send(.GET, "/internal/v1/products?ids=\(batch)") { CatalogClientError.unavailable($0) }
            guard status == 200, let envelope = try? JSONDecoder().decode(Envelope.self, from: body) else {
                throw CatalogClientError.unexpectedResponse(status: status, body: String(decoding: body.prefix(300), as: UTF8.self))
            }
            found += envelope.data
        }
        return found
    }

    struct Envelope: Decodable {
        let data: [CatalogProduct]
    }
}

/// Why a call to the catalog failed.
public enum CatalogClientError: Error, Sendable, Hashable {
    /// Not reachable, timed out, failed on its side, or its circuit is open.
    case unavailable(String)
    case unexpectedResponse(status: Int, body: String)
}
