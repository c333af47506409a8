public import AsyncHTTPClient
import Foundation
import InternalHTTP
import NIOCore
import NIOHTTP1
public import ServiceContract

/// ``UserClient`` over HTTP, for a service that runs in another process than Users.
///
/// Every call is bounded by `timeout` and carries the caller's request id, so one id
/// follows a request across services.
///
/// Calls go through a ``CircuitBreaker``: once Users has been unreachable, timed out or
/// answered 5xx `failureThreshold` times in a row, calls fail at once with
/// ``UserClientError/unavailable(_:)`` until a trial call succeeds. Any other answer
/// (a user, none, a refusal) shows Users is up and does not count.
public struct HTTPUserClient: UserClient {
    let instances: ServiceInstances
    let httpClient: HTTPClient
    let timeout: TimeAmount
    let requestID: @Sendable () -> String?
    let bearerToken: @Sendable () -> String?
    /// The breaker every call of this client goes through.
    public let breaker: CircuitBreaker

    /// - Parameters:
    ///   - baseURL: where the Users service (or the gateway) listens, e.g. `http://users:8080`;
    ///     several instances separated by commas, called in turn.
    ///   - requestID: the id of the request being served, sent as `X-Request-ID`.
    ///   - bearerToken: the access token to call with (the caller's, passed along).
    ///   - breaker: shared by the copies of this client; by default one of its own, named
    ///     `users`, that no metrics see (pass one made by `ShopMetrics.circuitBreaker`).
    public init(
        baseURL: String,
        httpClient: HTTPClient = OutgoingCall.client,
        timeout: TimeAmount = .seconds(2),
        requestID: @escaping @Sendable () -> String? = { nil },
        bearerToken: @escaping @Sendable () -> String? = { nil },
        breaker: CircuitBreaker = CircuitBreaker(name: "users")
    ) {
        self.instances = ServiceInstances(baseURL)
        self.httpClient = httpClient
        self.timeout = timeout
        self.requestID = requestID
        self.bearerToken = bearerToken
        self.breaker = breaker
    }

    public func user(id: Int64) async throws -> UserResource? {
        do {
            return try await breaker.run(
                { try await instances.first(isDown: Self.isUpstreamFailure) { try await fetchUser(id: id, from: $0) } },
                isFailure: Self.isUpstreamFailure
            )
        } catch let error as CircuitOpenError {
            throw UserClientError.unavailable("\(error)")
        }
    }

    /// Whether an error of ``fetchUser(id:)`` counts against Users: it did not answer in
    /// time, or failed on its side. Any other answer shows it is up.
    static func isUpstreamFailure(_ error: any Error) -> Bool {
        if case UserClientError.unavailable = error { return true }
        return false
    }

    private func fetchUser(id: Int64, from baseURL: String) async throws -> UserResource? {
        var request = HTTPClientRequest(url: "\(baseURL)/api/v1/users/\(id)")
        request.headers.add(name: "Accept", value: "application/json")
        if let requestID = requestID() { request.headers.add(name: "X-Request-ID", value: requestID) }
        if let token = bearerToken() { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        let (response, body) = try await OutgoingCall.run(request) { request in
            do {
                let response = try await httpClient.execute(request, timeout: timeout)
                // A connection lost mid-body is the service not answering, like no answer at all.
                let body = try await response.body.collect(upTo: 1 << 20)
                return ((response, body), Int(response.status.code))
            } catch {
                throw UserClientError.unavailable("\(error)")
            }
        }
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
