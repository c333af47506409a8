public import AsyncHTTPClient
public import Foundation
import NIOCore
public import NIOHTTP1
public import ServiceContract

/// What every client of another service's internal API does the same way: the service
/// token, the caller's request id, a timeout, JSON bodies, and a circuit breaker that
/// counts only what shows the service is down (no answer, a timeout, a 5xx).
///
/// A client maps the answer (`status`, `body`) to its own types, and an unavailable
/// service to its own error through `unavailable`. With several instances (`baseURL`
/// lists them, separated by commas) a call that one of them does not answer goes on to
/// the next (``ServiceInstances``); the breaker counts the call, not each instance.
public struct InternalHTTPTransport: Sendable {
    let instances: ServiceInstances
    let token: String
    let httpClient: HTTPClient
    let timeout: TimeAmount
    let requestID: @Sendable () -> String?
    public let breaker: CircuitBreaker

    public init(
        baseURL: String,
        token: String,
        httpClient: HTTPClient,
        timeout: TimeAmount,
        requestID: @escaping @Sendable () -> String?,
        breaker: CircuitBreaker
    ) {
        self.instances = ServiceInstances(baseURL)
        self.token = token
        self.httpClient = httpClient
        self.timeout = timeout
        self.requestID = requestID
        self.breaker = breaker
    }

    /// Sends `method path` with `body` (JSON) and `headers`; answers any status under 500
    /// with the body. No answer, a timeout, a 5xx or an open breaker throw `unavailable`'s error.
    public func send(
        _ method: HTTPMethod,
        _ path: String,
        body: Data? = nil,
        headers: [(String, String)] = [],
        unavailable: (String) -> any Error
    ) async throws -> (status: Int, body: Data) {
        do {
            return try await breaker.run(
                {
                    try await instances.first(isDown: { $0 is Down }) { baseURL in
                        try await exchange(baseURL, method, path, body: body, headers: headers)
                    }
                },
                isFailure: { $0 is Down }
            )
        } catch let down as Down {
            throw unavailable(down.reason)
        } catch let open as CircuitOpenError {
            throw unavailable("\(open)")
        }
    }

    /// The service did not answer, or failed on its side.
    struct Down: Error {
        let reason: String
    }

    private func exchange(
        _ baseURL: String,
        _ method: HTTPMethod,
        _ path: String,
        body: Data?,
        headers: [(String, String)]
    ) async throws -> (status: Int, body: Data) {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Accept", value: "application/json")
        if let requestID = requestID() { request.headers.add(name: "X-Request-ID", value: requestID) }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        return try await OutgoingCall.run(request) { request in
            let response: HTTPClientResponse
            let buffer: ByteBuffer
            do {
                response = try await httpClient.execute(request, timeout: timeout)
                buffer = try await response.body.collect(upTo: 1 << 20)
            } catch {
                throw Down(reason: "\(error)")
            }
            let status = Int(response.status.code)
            if status >= 500 { throw Down(reason: "status \(status)") }
            return ((status, Data(buffer.readableBytesView)), status)
        }
    }

    /// `id` made safe as one path segment.
    public static func escaped(_ id: String) -> String {
        id.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? id
    }
}
