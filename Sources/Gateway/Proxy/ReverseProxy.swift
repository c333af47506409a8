public import AsyncHTTPClient
import Foundation
public import Hummingbird
import InternalHTTP
import Logging
import NIOCore
import NIOHTTP1
public import Platform
import ServiceContract
import Synchronization
import Tracing

/// How the gateway calls its upstreams.
public struct ProxyConfiguration: Sendable {
    /// How long an upstream may take to start answering a request, by route.
    public var timeouts = RouteTimeouts()
    /// How often every instance's `/health/ready` is asked.
    public var healthInterval: Duration = .seconds(2)
    /// The largest body of a request that is safe to repeat that is kept to send it again;
    /// a larger one streams and is never sent twice.
    public var retryBodyLimit = 1 << 20
    /// The internal API token, shown to services in ``GatewayToken/header`` so their guards
    /// leave rate limiting to the gateway.
    public var token: String
    /// Peers whose `X-Forwarded-Proto` is passed on (the guard's trusted proxies).
    public var trustedProxies: TrustedProxies = .none

    public init(token: String) {
        self.token = token
    }
}

/// Sends a request that passed the edge to an instance of the service that owns its route,
/// and streams the answer back.
///
/// A request safe to repeat (an idempotent method, or any with `Idempotency-Key`) whose body
/// is small enough to keep is sent to another instance when one fails before answering
/// (refused, timed out, reset), at most once per instance. Any other request is sent at
/// most once. With no instance to send to: 503 `UPSTREAM_UNAVAILABLE` with `Retry-After`.
public struct ReverseProxy: Sendable {
    let client: HTTPClient
    let configuration: ProxyConfiguration
    let metrics: ShopMetrics?

    public init(client: HTTPClient, configuration: ProxyConfiguration, metrics: ShopMetrics? = nil) {
        self.client = client
        self.configuration = configuration
        self.metrics = metrics
    }

    /// The answer of one of `upstream`'s instances to `request`, which `route` matched.
    public func forward(
        _ request: Request,
        to upstream: Upstream,
        route: GatewayRouteTable.Route,
        context: ShopRequestContext
    ) async throws -> Response {
        let timeout = TimeAmount(configuration.timeouts.timeout(for: route))
        let target = request.uri.path + (request.uri.query.map { "?" + $0 } ?? "")
        guard let probe = URL(string: "http://upstream" + target), probe.host == "upstream" else {
            throw APIError.malformed("The request's path cannot be forwarded")
        }
        let headers = ForwardedHeaders.request(
            request.headers,
            context: context,
            token: configuration.token,
            trustedProxies: configuration.trustedProxies
        )
        let body = try await OutgoingBody(request, canRepeat: Self.isSafeToRepeat(request), limit: configuration.retryBodyLimit)
        var sent = false
        for instance in upstream.rotation() {
            if sent {
                guard body.canRepeat else { break }
                metrics?.recordGatewayRetry(upstream: upstream.name)
            }
            var outgoing = HTTPClientRequest(url: instance.address.description + target)
            outgoing.method = HTTPMethod(rawValue: request.method.rawValue)
            outgoing.headers = headers
            outgoing.body = body.payload
            do {
                let response = try await withSpan(request.method.rawValue, ofKind: .client) { span in
                    span.attributes["http.request.method"] = request.method.rawValue
                    span.attributes["server.address"] = instance.address.description
                    span.attributes["shop.upstream"] = upstream.name
                    // The upstream's parent is this attempt (a client's own `traceparent`
                    // passes through untouched when tracing is off).
                    OutgoingCall.propagate(into: &outgoing.headers)
                    do {
                        let response = try await instance.breaker.run(
                            { try await client.execute(outgoing, timeout: timeout, logger: context.logger) },
                            isFailure: { _ in !body.clientFailed && !Task.isCancelled }
                        )
                        span.attributes["http.response.status_code"] = Int(response.status.code)
                        if response.status.code >= 500 { span.setStatus(SpanStatus(code: .error)) }
                        return response
                    } catch {
                        span.setStatus(SpanStatus(code: .error))
                        throw error
                    }
                }
                instance.answered(status: Int(response.status.code))
                return Self.response(response)
            } catch is CircuitOpenError {
                // Its breaker opened since the rotation was made, and nothing was sent: the
                // next instance may take it, whatever the method.
                continue
            } catch {
                if body.clientFailed || Task.isCancelled { throw error }
                instance.failed()
                sent = true
                context.logger.warning(
                    "upstream instance failed",
                    metadata: ["upstream": "\(upstream.name)", "instance": "\(instance.address)", "error": "\(error)"]
                )
            }
        }
        throw APIError(
            .upstreamUnavailable,
            "The \(upstream.name) service is not answering; try again shortly",
            headers: [.retryAfter: String(upstream.retryAfter(healthInterval: configuration.healthInterval))]
        )
    }

    /// A client for upstreams: redirects and compression passed through untouched, a
    /// refused connection reported at once (another instance is tried rather than this one
    /// waited for), and room for many requests at a time. Its owner shuts it down.
    /// `timeout`: the longest any route waits (``RouteTimeouts/longest``), which bounds
    /// the wait between two parts of a body too.
    public static func makeClient(timeout: Duration) -> HTTPClient {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: TimeAmount(min(timeout, .seconds(5))), read: TimeAmount(timeout)),
            decompression: .disabled
        )
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 512)
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: OutgoingCall.untraced(configuration))
    }

    /// The methods HTTP defines as idempotent (GET, HEAD, OPTIONS, PUT, DELETE: RFC 9110,
    /// 9.2.2; our PUTs set a value, our DELETEs remove one), and any request carrying an
    /// idempotency key. A POST or PATCH without one is never sent twice.
    static func isSafeToRepeat(_ request: Request) -> Bool {
        switch request.method {
        case .get, .head, .options, .put, .delete: true
        default: request.headers[.idempotencyKey] != nil
        }
    }

    private static func response(_ upstream: HTTPClientResponse) -> Response {
        Response(
            status: HTTPResponse.Status(code: Int(upstream.status.code), reasonPhrase: upstream.status.reasonPhrase),
            headers: ForwardedHeaders.response(upstream.headers),
            body: ResponseBody(asyncSequence: upstream.body)
        )
    }
}

/// The body sent upstream: kept in memory when the request may be sent again, streamed
/// from the client otherwise.
private struct OutgoingBody: Sendable {
    let payload: HTTPClientRequest.Body?
    let canRepeat: Bool
    private let failure: ClientBodyFailure

    /// Whether reading the client's body failed (it went away mid-upload): its fault, not
    /// the upstream's.
    var clientFailed: Bool { failure.happened }

    init(_ request: Request, canRepeat: Bool, limit: Int) async throws {
        failure = ClientBodyFailure()
        let declared = request.headers[.contentLength].flatMap { Int64($0) }
        let chunked = request.headers[.transferEncoding] != nil
        guard declared != nil || chunked else {
            payload = nil
            self.canRepeat = canRepeat
            return
        }
        if canRepeat, !chunked, let declared, declared <= limit {
            do {
                payload = .bytes(try await request.body.collect(upTo: limit))
            } catch {
                failure.record()
                throw error
            }
            self.canRepeat = true
            return
        }
        let length: HTTPClientRequest.Body.Length = declared.map { .known($0) } ?? .unknown
        payload = .stream(WatchedBody(base: request.body, failure: failure), length: length)
        self.canRepeat = false
    }
}

/// Remembers that the client's body could not be read.
private final class ClientBodyFailure: Sendable {
    private let flag = Atomic(false)
    var happened: Bool { flag.load(ordering: .relaxed) }
    func record() { flag.store(true, ordering: .relaxed) }
}

/// The client's body as it arrives, noting a failure to read it.
private struct WatchedBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let base: RequestBody
    let failure: ClientBodyFailure

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: RequestBody.AsyncIterator
        let failure: ClientBodyFailure

        mutating func next() async throws -> ByteBuffer? {
            do {
                return try await base.next()
            } catch {
                failure.record()
                throw error
            }
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: base.makeAsyncIterator(), failure: failure)
    }
}
