public import Hummingbird
import Logging

/// Gives every request an id (the client's, when valid, or a new one), puts it in the
/// logger's metadata and on every response, success or error.
///
/// Install it first, outside ``ErrorMiddleware``, so error responses carry the id too.
public struct RequestIDMiddleware: RouterMiddleware {
    public typealias Context = ShopRequestContext

    public init() {}

    public func handle(
        _ request: Request,
        context: ShopRequestContext,
        next: (Request, ShopRequestContext) async throws -> Response
    ) async throws -> Response {
        var context = context
        if let sent = request.headers[.xRequestID], let id = RequestIdentifier.validated(sent) {
            context.requestID = id
        }
        context.logger[metadataKey: "hb.request.id"] = nil
        context.logger[metadataKey: "request_id"] = .string(context.requestID)
        // Known to everything the request calls, events written to an outbox included.
        var response = try await RequestIdentifier.$current.withValue(context.requestID) {
            try await next(request, context)
        }
        response.headers[.xRequestID] = context.requestID
        return response
    }
}
