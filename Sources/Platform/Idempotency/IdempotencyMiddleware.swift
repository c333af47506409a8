import Crypto
import Foundation
public import HTTPTypes
public import Hummingbird
import NIOConcurrencyHelpers
import NIOCore

/// `Idempotency-Key` on a route that creates something (`API.md`): the first response for
/// a key is stored and replayed byte for byte to a retry with the same body; the same key
/// with another body is `CONFLICT`; a retry while the first is running is `CONFLICT`;
/// the work never runs twice.
public struct IdempotencyMiddleware: RouterMiddleware {
    public typealias Context = ShopRequestContext

    let store: IdempotencyStore
    let now: @Sendable () -> Date
    /// The largest body it reads to fingerprint a request (an image upload's is larger
    /// than JSON's).
    let maxBodyBytes: Int

    public static let maxKeyLength = 255
    /// Set on a replayed response.
    public static let replayedHeader = HTTPField.Name("Idempotent-Replayed")!
    private static let keptHeaders: [HTTPField.Name] = [.contentType, .location, .cacheControl, .eTag]

    public init(store: IdempotencyStore, maxBodyBytes: Int = JSONBody.maxBytes, now: @escaping @Sendable () -> Date = { Date() }) {
        self.store = store
        self.maxBodyBytes = maxBodyBytes
        self.now = now
    }

    /// Refuses a key that is not 1 to ``maxKeyLength`` visible ASCII characters.
    public static func check(key: String) throws(APIError) {
        guard (1...maxKeyLength).contains(key.utf8.count), key.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw APIError.validation("Must be 1 to \(maxKeyLength) visible ASCII characters", field: "Idempotency-Key")
        }
    }

    /// The scope a key belongs to: the caller (a user, or an anonymous client's address and
    /// the digest of its guest cart token, so guests behind one address never meet), the
    /// method and the path as the router reads it. Two callers choosing the same key never
    /// meet, and another spelling of the same path is the same request.
    public static func scope(of request: Request, context: ShopRequestContext) -> String {
        var caller = context.principal.map { "user:\($0.userID)" } ?? "ip:\(context.clientAddress ?? "unknown")"
        if context.principal == nil, let token = request.headers[.xCartToken] {
            caller += " cart:" + Hexadecimal.encode(SHA256.hash(data: Data(token.utf8)).prefix(16))
        }
        return "\(caller) \(request.method.rawValue) \(RoutePath.collapsed(request.uri.path))"
    }

    public func handle(
        _ request: Request,
        context: ShopRequestContext,
        next: (Request, ShopRequestContext) async throws -> Response
    ) async throws -> Response {
        guard request.method == .post, let key = request.headers[.idempotencyKey] else {
            return try await next(request, context)
        }
        try Self.check(key: key)
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: maxBodyBytes)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw APIError(.payloadTooLarge, "The request body is larger than \(maxBodyBytes) bytes")
        }
        let scope = Self.scope(of: request, context: context)
        let fingerprint = Self.fingerprint(scope: scope, contentType: request.headers[.contentType], body: body)

        switch try await store.claim(scope: scope, key: key, fingerprint: fingerprint, now: now()) {
        case .completed(let stored):
            var headers = HTTPFields()
            for (name, value) in stored.headers {
                if let name = HTTPField.Name(name) { headers[name] = value }
            }
            headers[Self.replayedHeader] = "true"
            return Response(
                status: HTTPResponse.Status(code: stored.status),
                headers: headers,
                body: .init(byteBuffer: ByteBuffer(bytes: stored.body))
            )
        case .mismatch:
            throw APIError(.conflict, "This Idempotency-Key was used with a different request", field: "Idempotency-Key")
        case .inProgress:
            throw APIError(.conflict, "A request with this Idempotency-Key is still being processed; retry later", field: "Idempotency-Key")
        case .claimed:
            let response: Response
            do {
                response = try await next(request, context)
            } catch {
                let apiError = ErrorMiddleware.apiError(for: error, request: request, logger: context.logger)
                if apiError.status.code >= 500 {
                    try await store.release(scope: scope, key: key)
                    throw error
                }
                return try await remember(try JSONResponse.error(apiError, requestID: context.requestID), scope: scope, key: key)
            }
            if response.status.code >= 500 {
                try await store.release(scope: scope, key: key)
                return response
            }
            return try await remember(response, scope: scope, key: key)
        }
    }

    /// Stores `response` and returns an equivalent one (its body was read to store it).
    private func remember(_ response: Response, scope: String, key: String) async throws -> Response {
        let collector = BodyCollector()
        try await response.body.write(collector)
        let bytes = collector.bytes.withLockedValue { $0 }
        var headers: [String: String] = [:]
        for name in Self.keptHeaders {
            if let value = response.headers[name] { headers[name.canonicalName] = value }
        }
        try await store.complete(scope: scope, key: key, with: .init(status: response.status.code, headers: headers, body: bytes))
        return Response(status: response.status, headers: response.headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static func fingerprint(scope: String, contentType: String?, body: ByteBuffer) -> String {
        var hasher = SHA256()
        hasher.update(data: Array(scope.utf8) + [0] + Array((contentType ?? "").utf8) + [0])
        hasher.update(data: Array(body.readableBytesView))
        return Hexadecimal.encode(hasher.finalize())
    }
}

/// A body writer that keeps what is written, to read a response before sending it.
struct BodyCollector: ResponseBodyWriter {
    let bytes = NIOLockedValueBox<[UInt8]>([])

    mutating func write(_ buffer: ByteBuffer) async throws {
        bytes.withLockedValue { $0.append(contentsOf: buffer.readableBytesView) }
    }

    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
}
