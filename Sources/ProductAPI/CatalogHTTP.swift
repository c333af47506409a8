public import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
public import ServiceContract

/// ``CatalogClient`` over HTTP, for an order service in another process than Products:
/// `GET /internal/v1/products?ids=1,2,3` on Products' internal listener, with the token
/// the services share, behind a circuit breaker.
public struct HTTPCatalogClient: CatalogClient {
    let baseURL: String
    let token: String
    let httpClient: HTTPClient
    let timeout: TimeAmount
    let requestID: @Sendable () -> String?
    /// The breaker every call of this client goes through.
    public let breaker: CircuitBreaker

    /// At most this many ids in one call (a cart's line limit).
    public static let maxIDs = 50

    public init(
        baseURL: String,
        token: String,
        httpClient: HTTPClient = .shared,
        timeout: TimeAmount = .seconds(2),
        requestID: @escaping @Sendable () -> String? = { RequestIdentifier.current },
        breaker: CircuitBreaker = CircuitBreaker(name: "products-catalog")
    ) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.token = token
        self.httpClient = httpClient
        self.timeout = timeout
        self.requestID = requestID
        self.breaker = breaker
    }

    public func products(ids: [Int64]) async throws -> [CatalogProduct] {
        let unique = Array(Set(ids)).sorted()
        guard !unique.isEmpty else { return [] }
        var found: [CatalogProduct] = []
        // Asked in batches the server takes.
        for start in stride(from: 0, to: unique.count, by: Self.maxIDs) {
            let batch = unique[start..<min(start + Self.maxIDs, unique.count)]
            found += try await fetch(batch.map(String.init).joined(separator: ","))
        }
        return found
    }

    private func fetch(_ ids: String) async throws -> [CatalogProduct] {
        do {
            return try await breaker.run({ try await send(ids) }, isFailure: Self.isUpstreamFailure)
        } catch let error as CircuitOpenError {
            throw CatalogClientError.unavailable("\(error)")
        }
    }

    private func send(_ ids: String) async throws -> [CatalogProduct] {
        var request = HTTPClientRequest(url: "\(baseURL)/internal/v1/products?ids=\(ids)")
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Accept", value: "application/json")
        if let requestID = requestID() { request.headers.add(name: "X-Request-ID", value: requestID) }
        let response: HTTPClientResponse
        let buffer: ByteBuffer
        do {
            response = try await httpClient.execute(request, timeout: timeout)
            buffer = try await response.body.collect(upTo: 1 << 20)
        } catch {
            throw CatalogClientError.unavailable("\(error)")
        }
        let body = Data(buffer.readableBytesView)
        switch response.status.code {
        case 200:
            guard let envelope = try? JSONDecoder().decode(Envelope.self, from: body) else {
                throw CatalogClientError.unexpectedResponse(status: 200, body: String(decoding: body.prefix(300), as: UTF8.self))
            }
            return envelope.data
        case 500...:
            throw CatalogClientError.unavailable("status \(response.status.code)")
        default:
            throw CatalogClientError.unexpectedResponse(status: Int(response.status.code), body: String(decoding: body.prefix(300), as: UTF8.self))
        }
    }

    static func isUpstreamFailure(_ error: any Error) -> Bool {
        if case CatalogClientError.unavailable = error { return true }
        return false
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
