public import AsyncHTTPClient
public import NIOHTTP1
import Tracing

/// A call from one service to another (or from the gateway to an upstream) as one client
/// span, whose context the callee receives as `traceparent` (W3C Trace Context), so that
/// its own span hangs under the caller's.
public enum OutgoingCall {
    /// The client for calls between services. AsyncHTTPClient's own tracing is off: it
    /// would add a second `traceparent` beside ours (a callee cannot read two) and make a
    /// span for every health check.
    public static let client: HTTPClient = HTTPClient(eventLoopGroupProvider: .singleton, configuration: untraced(HTTPClient.Configuration()))

    /// `configuration` with AsyncHTTPClient's own spans and headers off.
    public static func untraced(_ configuration: HTTPClient.Configuration) -> HTTPClient.Configuration {
        var configuration = configuration
        configuration.tracing.tracer = nil
        return configuration
    }

    /// Runs `send` with `request` in a client span, the span's context in its headers;
    /// `send` answers its result and the response's status.
    public static func run<Result: Sendable>(
        _ request: HTTPClientRequest,
        _ send: (HTTPClientRequest) async throws -> (result: Result, status: Int)
    ) async throws -> Result {
        try await withSpan(request.method.rawValue, ofKind: .client) { span in
            span.attributes["http.request.method"] = request.method.rawValue
            span.attributes["url.full"] = request.url
            var request = request
            propagate(into: &request.headers)
            do {
                let (result, status) = try await send(request)
                span.attributes["http.response.status_code"] = status
                if status >= 500 { span.setStatus(SpanStatus(code: .error)) }
                return result
            } catch {
                span.setStatus(SpanStatus(code: .error))
                throw error
            }
        }
    }

    /// Replaces whatever trace context `headers` carry with the current span's; leaves
    /// them as they are when no span is current (tracing off).
    public static func propagate(into headers: inout HTTPHeaders) {
        guard let context = ServiceContext.current else { return }
        var carrier: [String: String] = [:]
        InstrumentationSystem.instrument.inject(context, into: &carrier, using: DictionaryInjector())
        guard !carrier.isEmpty else { return }
        headers.remove(name: "traceparent")
        headers.remove(name: "tracestate")
        for (name, value) in carrier.sorted(by: { $0.key < $1.key }) { headers.add(name: name, value: value) }
    }
}

struct DictionaryInjector: Injector {
    func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) {
        carrier[key] = value
    }
}
