public import Foundation
public import Hummingbird

/// Builds JSON responses in the envelopes of `API.md`.
public enum JSONResponse {
    /// The encoding of every response body: compact, UTF-8, RFC 3339 timestamps in UTC.
    /// Bodies are written by ``ResponseJSONEncoder``, which writes exactly this, faster.
    public static func makeEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(RFC3339.string(from: date))
        }
        // Sorted keys make a body byte-stable: the same resource always encodes the same way.
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        return encoder
    }

    /// A success envelope around `data`.
    public static func success<Data: Encodable & Sendable, Meta: Encodable & Sendable>(
        _ data: Data,
        meta: Meta,
        status: HTTPResponse.Status = .ok,
        headers: HTTPFields = [:]
    ) throws -> Response {
        try encoded(Envelope(data: data, meta: meta), status: status, headers: headers)
    }

    /// A success envelope around `data`, with empty `meta`.
    public static func success<Data: Encodable & Sendable>(
        _ data: Data,
        status: HTTPResponse.Status = .ok,
        headers: HTTPFields = [:]
    ) throws -> Response {
        try encoded(Envelope(data: data), status: status, headers: headers)
    }

    /// The error envelope for `error`.
    public static func error(_ error: APIError, requestID: String) throws -> Response {
        var headers = error.headers
        headers[.cacheControl] = "no-store"
        return try encoded(ErrorEnvelope(error, requestID: requestID), status: error.status, headers: headers)
    }

    /// `value` as the JSON body of a response.
    public static func encoded(
        _ value: some Encodable,
        status: HTTPResponse.Status,
        headers: HTTPFields = [:]
    ) throws -> Response {
        let bytes = try ResponseJSONEncoder.encode(value)
        var headers = headers
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// `204 No Content`.
    public static func noContent() -> Response {
        Response(status: .noContent)
    }
}
