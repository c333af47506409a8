import HTTPTypes

/// A stable, machine-readable error code of the public contract (`API.md`).
///
/// Clients switch on these; the raw values never change within `/api/v1`.
public enum ErrorCode: String, Sendable, Codable, CaseIterable {
    case validationError = "VALIDATION_ERROR"
    case malformedRequest = "MALFORMED_REQUEST"
    case unauthenticated = "UNAUTHENTICATED"
    case forbidden = "FORBIDDEN"
    case notFound = "NOT_FOUND"
    case methodNotAllowed = "METHOD_NOT_ALLOWED"
    case conflict = "CONFLICT"
    case payloadTooLarge = "PAYLOAD_TOO_LARGE"
    case rateLimited = "RATE_LIMITED"
    case outOfStock = "OUT_OF_STOCK"
    case paymentDeclined = "PAYMENT_DECLINED"
    case upstreamUnavailable = "UPSTREAM_UNAVAILABLE"
    case internalError = "INTERNAL_ERROR"

    /// The HTTP status that goes with the code.
    public var status: HTTPResponse.Status {
        switch self {
        case .validationError: .unprocessableContent
        case .malformedRequest: .badRequest
        case .unauthenticated: .unauthorized
        case .forbidden: .forbidden
        case .notFound: .notFound
        case .methodNotAllowed: .methodNotAllowed
        case .conflict: .conflict
        case .payloadTooLarge: .contentTooLarge
        case .rateLimited: .tooManyRequests
        case .outOfStock: .conflict
        case .paymentDeclined: .init(code: 402, reasonPhrase: "Payment Required")
        case .upstreamUnavailable: .serviceUnavailable
        case .internalError: .internalServerError
        }
    }
}

/// One problem with a request: what is wrong and, when one field is at fault, which.
public struct Problem: Sendable, Hashable, Codable {
    public var code: ErrorCode
    public var message: String
    public var field: String?
    /// With `PAYMENT_DECLINED`: the provider's reason (`card_declined`, `insufficient_funds`...).
    public var declineCode: String?

    public init(_ code: ErrorCode, _ message: String, field: String? = nil, declineCode: String? = nil) {
        self.code = code
        self.message = message
        self.field = field
        self.declineCode = declineCode
    }

    enum CodingKeys: String, CodingKey {
        case code, message, field
        case declineCode = "decline_code"
    }
}

/// An error that reaches the client as the error envelope of `API.md`.
///
/// The first problem is the main one (`error`); all of them are listed (`errors`), so a
/// form can show every invalid field at once. Handlers throw this, or a domain error that
/// conforms to ``APIErrorConvertible``; they never build error JSON themselves.
public struct APIError: Error, Sendable, Hashable {
    public var problems: [Problem]
    public var headers: HTTPFields

    /// - Precondition: `problems` is not empty.
    public init(_ problems: [Problem], headers: HTTPFields = [:]) {
        precondition(!problems.isEmpty, "an APIError needs at least one problem")
        self.problems = problems
        self.headers = headers
    }

    public init(_ code: ErrorCode, _ message: String, field: String? = nil, headers: HTTPFields = [:]) {
        self.init([Problem(code, message, field: field)], headers: headers)
    }

    /// The main problem, reported as `error`.
    public var main: Problem { problems[0] }

    /// The status of the main problem.
    public var status: HTTPResponse.Status { main.code.status }

    public static func validation(_ message: String, field: String?) -> APIError {
        APIError(.validationError, message, field: field)
    }

    public static func malformed(_ message: String) -> APIError {
        APIError(.malformedRequest, message)
    }

    public static func notFound(_ what: String) -> APIError {
        APIError(.notFound, "\(what) not found")
    }
}

/// A domain error that knows how it is shown to a client.
///
/// Services make their typed domain errors conform (in their `HTTP/` folder), so the one
/// mapping in ``ErrorMiddleware`` can render them.
public protocol APIErrorConvertible: Error {
    var apiError: APIError { get }
}

extension APIError: APIErrorConvertible {
    public var apiError: APIError { self }
}
