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

/// The ETag of a resource with a version of its own, `"<id>.<version>"`, and the version
/// an `If-Match` names (RFC 9110): for optimistic updates (`409` on a stale version).
public enum VersionETag {
    /// A strong validator that changes with every change of the resource.
    public static func make(id: Int64, version: Int) -> String { "\"\(id).\(version)\"" }

    /// The version `header` names for the resource `id`; `nil` for an ETag of another
    /// resource or none of ours.
    public static func version(_ header: String, id: Int64) -> Int? {
        let trimmed = header.trimmingCharacters(in: .whitespaces)
        guard trimmed.hasPrefix("\""), trimmed.hasSuffix("\""), trimmed.count > 2 else { return nil }
        let parts = trimmed.dropFirst().dropLast().split(separator: ".")
        guard parts.count == 2, Int64(parts[0]) == id else { return nil }
        return Int(parts[1])
    }
}

/// A strong `ETag` made from the bytes of a `200` answer to `GET`, and `304 Not Modified`
/// to an `If-None-Match` that names it: for reads whose representation has no version of
/// its own (lists, categories). Answers that set their own `ETag` pass untouched.
public struct ContentETagMiddleware: RouterMiddleware {
    public typealias Context = ShopRequestContext

    public init() {}

    public func handle(
        _ request: Request,
        context: ShopRequestContext,
        next: (Request, ShopRequestContext) async throws -> Response
    ) async throws -> Response {
        let response = try await next(request, context)
        guard request.method == .get, response.status == .ok, response.headers[.eTag] == nil else { return response }
        let collector = BodyCollector()
        try await response.body.write(collector)
        let bytes = collector.bytes.withLockedValue { $0 }
        let etag = "\"" + Hexadecimal.encode(SHA256.hash(data: bytes).prefix(16)) + "\""
        var headers = response.headers
        headers[.eTag] = etag
        if IfNoneMatch.matches(request.headers[.ifNoneMatch], etag) {
            headers[.contentType] = nil
            return Response(status: .notModified, headers: headers)
        }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
