public import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// ``UserClient`` over HTTP, for a service that runs in another process than Users.
///
/// Every call is bounded by `timeout` and carries the caller's request id, so one id
/// follows a request across services.
public struct HTTPUserClient: UserClient {
    let baseURL: String
    let httpClient: HTTPClient
    let timeout: TimeAmount
    let requestID: @Sendable () -> String?
    let bearerToken: @Sendable () -> String?

    /// - Parameters:
    ///   - baseURL: where the Users service (or the gateway) listens, e.g. `http://users:8080`.
    ///   - requestID: the id of the request being served, sent as `X-Request-ID`.
    ///   - bearerToken: the access token to call with (the caller's, passed along).
    public init(
        baseURL: String,
        httpClient: HTTPClient = .shared,
        timeout: TimeAmount = .seconds(2),
        requestID: @escaping @Sendable () -> String? = { nil },
        bearerToken: @escaping @Sendable () -> String? = { nil }
    ) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.httpClient = httpClient
        self.timeout = timeout
        self.requestID = requestID
        self.bearerToken = bearerToken
    }

    public func user(id: Int64) async throws -> UserResource? {
        var request = HTTPClientRequest(url: "\(baseURL)/api/v1/users/\(id)")
        request.headers.add(name: "Accept", value: "application/json")
        if let requestID = requestID() { request.headers.add(name: "X-Request-ID", value: requestID) }
        if let token = bearerToken() { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        let response: HTTPClientResponse
        do {
            response = try await httpClient.execute(request, timeout: timeout)
        } catch {
            throw UserClientError.unavailable("\(error)")
        }
        let body = try await response.body.collect(upTo: 1 << 20)
        switch response.status.code {
        case 200:
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            do {
                return try decoder.decode(DataEnvelope<UserResource>.self, from: Data(body.readableBytesView)).data
            } catch {
                throw UserClientError.unexpectedResponse(status: 200, body: String(buffer: body))
            }
        case 404:
            return nil
        case 500...:
            throw UserClientError.unavailable("status \(response.status.code)")
        default:
            throw UserClientError.unexpectedResponse(status: Int(response.status.code), body: String(buffer: body))
        }
    }
}

/// Why a call to the Users service failed.
public enum UserClientError: Error, Sendable, Hashable {
    /// The service did not answer, timed out, or failed on its side; a retry may work.
    case unavailable(String)
    /// The service answered something this client does not understand.
    case unexpectedResponse(status: Int, body: String)
}

/// The `data` of a success envelope.
struct DataEnvelope<Resource: Decodable>: Decodable {
    let data: Resource
}
