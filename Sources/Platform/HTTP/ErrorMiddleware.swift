public import Hummingbird
import Logging

/// The one place where thrown errors become the error envelope of `API.md`.
///
/// Known errors (``APIErrorConvertible``, Hummingbird's `HTTPError`) keep their meaning;
/// anything else is logged once with the request id and answered as `INTERNAL_ERROR`,
/// with nothing of its description leaking to the client.
public struct ErrorMiddleware: RouterMiddleware {
    public typealias Context = ShopRequestContext

    public init() {}

    public func handle(
        _ request: Request,
        context: ShopRequestContext,
        next: (Request, ShopRequestContext) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let apiError = Self.apiError(for: error, request: request, logger: context.logger)
            return try JSONResponse.error(apiError, requestID: context.requestID)
        }
    }

    static func apiError(for error: any Error, request: Request, logger: Logger) -> APIError {
        switch error {
        case let error as any APIErrorConvertible:
            let apiError = error.apiError
            if apiError.main.code == .internalError {
                logger.error("internal error", metadata: ["error": "\(String(reflecting: error))"])
            }
            return apiError
        case let error as HTTPError:
            return apiError(forStatus: error.status, request: request, logger: logger, underlying: error)
        case let error as any HTTPResponseError:
            return apiError(forStatus: error.status, request: request, logger: logger, underlying: error)
        case is DatabaseUnavailable:
            logger.error("database unavailable", metadata: ["error": "\(String(reflecting: error))"])
            return APIError(.upstreamUnavailable, "A dependency is unavailable; try again shortly")
        default:
            logger.error("unexpected error", metadata: ["error": "\(String(reflecting: error))"])
            return APIError(.internalError, "An unexpected error occurred")
        }
    }

    private static func apiError(
        forStatus status: HTTPResponse.Status,
        request: Request,
        logger: Logger,
        underlying: any Error
    ) -> APIError {
        switch status {
        case .notFound:
            return APIError(.notFound, "No resource at \(request.method) \(request.uri.path)")
        case .contentTooLarge:
            return APIError(.payloadTooLarge, "The request body is larger than allowed")
        case .badRequest:
            return APIError(.malformedRequest, "The request could not be understood")
        case .unauthorized:
            return APIError(.unauthenticated, "Authentication is required")
        case .forbidden:
            return APIError(.forbidden, "You may not do this")
        case .unsupportedMediaType:
            return APIError(.malformedRequest, "Unsupported content type")
        default:
            logger.error("unexpected HTTP error", metadata: ["error": "\(String(reflecting: underlying))"])
            return APIError(.internalError, "An unexpected error occurred")
        }
    }
}
