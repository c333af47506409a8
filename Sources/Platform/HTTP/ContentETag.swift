import Crypto
import HTTPTypes
public import Hummingbird
import NIOCore

/// `If-None-Match` (RFC 9110): whether a header value names `etag`, or is `*`.
public enum IfNoneMatch {
    public static func matches(_ header: String?, _ etag: String) -> Bool {
        guard let header else { return false }
        return header.split(separator: ",").contains { candidate in
            let trimmed = candidate.trimmingCharacters(in: .whitespaces)
            return trimmed == etag || trimmed == "*" || trimmed == "W/" + etag
        }
    }
}

/// A strong `ETag` made from the bytes of a `200` answer to `GET`, and `304 Not Modified`
/// to an `If-None-Match` that names it: for reads whose representation has no version of
/// its own (lists, categories). Answers that set their own `ETag` pass untouched.
public struct ContentETagMiddleware: RouterMiddleware {
    public typealias Context = ShopRequestContext

    public init() {}

    public func handle(
        _ request: Request, context: ShopRequestContext, next: (Request, ShopRequestContext) async throws -> Response
    ) async throws -> Response {
        let response = try await next(request, context)
        guard request.method == .get, response.status == .ok, response.headers[.eTag] == nil else { return response }
        let collector = BodyCollector()
        try await response.body.write(collector)
        let bytes = collector.bytes.withLockedValue { $0 }
        let etag = "\"" + SHA256.hash(data: bytes).prefix(16).map { String(format: "%02x", $0) }.joined() + "\""
        var headers = response.headers
        headers[.eTag] = etag
        if IfNoneMatch.matches(request.headers[.ifNoneMatch], etag) {
            headers[.contentType] = nil
            return Response(status: .notModified, headers: headers)
        }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
