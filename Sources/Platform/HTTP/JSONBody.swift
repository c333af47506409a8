import Foundation
public import Hummingbird
import NIOFoundationCompat

/// Reading JSON request bodies the way `API.md` asks: right content type, size-limited,
/// valid JSON, an object, no unknown fields, and types that fit.
public enum JSONBody {
    /// The largest JSON body accepted: 1 MiB.
    public static let maxBytes = 1 << 20

    /// Decodes the body of `request` as `Body`, or throws the documented ``APIError``.
    public static func decode<Body: JSONRequestBody>(
        _ type: Body.Type,
        from request: Request,
        limit: Int = maxBytes
    ) async throws -> Body {
        try checkJSON(request)
        return try decode(type, from: Data(buffer: try await collect(request, limit: limit)))
    }

    /// Decodes the body of `request` as `Body` when it has one; `nil` for an empty body, for
    /// a route whose body is optional.
    public static func decodeIfPresent<Body: JSONRequestBody>(
        _ type: Body.Type,
        from request: Request,
        limit: Int = maxBytes
    ) async throws -> Body? {
        let buffer = try await collect(request, limit: limit)
        guard buffer.readableBytes > 0 else { return nil }
        try checkJSON(request)
        return try decode(type, from: Data(buffer: buffer))
    }

    /// The body of `request` as sent, with the checks made before decoding it (its type,
    /// its size): for a route that keeps the bytes as well (to fingerprint them), and then
    /// decodes them from `Data`.
    public static func bytes(of request: Request, limit: Int = maxBytes) async throws -> ByteBuffer {
        try checkJSON(request)
        return try await collect(request, limit: limit)
    }

    private static func checkJSON(_ request: Request) throws {
        guard let contentType = request.headers[.contentType], isJSON(contentType) else {
            throw APIError.malformed("Content-Type must be application/json")
        }
    }

    /// The body, refused past `limit` bytes.
    private static func collect(_ request: Request, limit: Int) async throws -> ByteBuffer {
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
            throw APIError(.payloadTooLarge, "The request body is larger than \(limit) bytes")
        }
        do {
            return try await request.body.collect(upTo: limit)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw APIError(.payloadTooLarge, "The request body is larger than \(limit) bytes")
        }
    }

    /// Decodes `data` as `Body`, or throws the documented ``APIError``.
    public static func decode<Body: JSONRequestBody>(_ type: Body.Type, from data: Data) throws -> Body {
        guard !data.isEmpty else {
            throw APIError.malformed("The request body is empty; a JSON object is expected")
        }
        do {
            return try JSONTapeDecoder.decode(StrictBody<Body>.self, from: data, userInfo: [RequestBodyDecoding.strictKey: true]).body
        } catch let unknown as UnknownMembers {
            throw APIError(unknown.names.map { Problem(.validationError, "Unknown field", field: $0) })
        } catch DecodingError.typeMismatch(_, let context) where context.codingPath.isEmpty {
            throw APIError.malformed("The request body must be a JSON object")
        } catch DecodingError.valueNotFound(_, let context) where context.codingPath.isEmpty {
            throw APIError.malformed("The request body must be a JSON object")
        } catch DecodingError.dataCorrupted(let context) where context.codingPath.isEmpty {
            throw APIError.malformed("The request body is not valid JSON")
        } catch let error as DecodingError {
            throw apiError(for: error)
        }
    }

    /// The message of an unknown member, as a decoding error carries it.
    static let unknownField = RequestBodyDecoding.unknownField

    static func isJSON(_ contentType: String) -> Bool {
        let mediaType = contentType.split(separator: ";", maxSplits: 1)[0]
            .trimmingCharacters(in: .whitespaces).lowercased()
        return mediaType == "application/json" || (mediaType.hasPrefix("application/") && mediaType.hasSuffix("+json"))
    }

    static func apiError(for error: DecodingError) -> APIError {
        func path(_ codingPath: [any CodingKey]) -> String? {
            let names = codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
            return names.isEmpty ? nil : names.joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
        }
        switch error {
        case .typeMismatch(let expected, let context):
            return .validation("Must be \(describe(expected))", field: path(context.codingPath))
        case .valueNotFound(let expected, let context):
            return .validation("Must be \(describe(expected)), not null", field: path(context.codingPath))
        case .keyNotFound(let key, let context):
            return .validation("Is required", field: path(context.codingPath + [key]))
        case .dataCorrupted(let context):
            if context.debugDescription == unknownField, let field = path(context.codingPath) {
                return .validation(unknownField, field: field)
            }
            if let field = path(context.codingPath) {
                return .validation("Has an invalid value", field: field)
            }
            return .malformed("The request body is not valid JSON")
        @unknown default:
            return .malformed("The request body could not be read")
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "a boolean"
        case is Int.Type, is Int64.Type, is Int32.Type, is UInt.Type, is UInt64.Type: "an integer"
        case is Double.Type, is Float.Type: "a number"
        default: type == [Any].self ? "an array" : "a value of the documented type"
        }
    }
}

/// A request body read in one pass: the names of its members checked first (every unknown
/// one is reported), then the body decoded from the same parse.
private struct StrictBody<Body: JSONRequestBody>: Decodable {
    let body: Body

    init(from decoder: any Decoder) throws {
        // Closures, not `\.stringValue`: a key path on a generic type is made anew at each
        // call, which was a percent of a checkout's CPU.
        let known = Set(Body.CodingKeys.allCases.map { $0.stringValue })
        let unknown = try decoder.container(keyedBy: AnyKey.self).allKeys.map { $0.stringValue }.filter { !known.contains($0) }
        if !unknown.isEmpty { throw UnknownMembers(names: unknown.sorted()) }
        body = try Body(from: decoder)
    }

    struct AnyKey: CodingKey {
        let stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}

/// Members of a request body's top level that its type does not name.
private struct UnknownMembers: Error {
    let names: [String]
}
