import HTTPTypes
public import Hummingbird
import Instrumentation
public import Tracing

/// Traces across processes (W3C Trace Context): what a request or an event carries so
/// that the spans of one checkout, in every service it touches, form one tree.
///
/// With no tracer installed (`shop serve` installs OpenTelemetry's when an OTLP endpoint
/// is configured) every span here is a no-op and nothing is propagated.
public enum Traces {
    /// The headers that carry the current span to the next hop (`traceparent`,
    /// `tracestate`), empty when no span is current or tracing is off.
    public static func propagationHeaders(from context: ServiceContext? = ServiceContext.current) -> [(String, String)] {
        guard let context else { return [] }
        var carrier: [String: String] = [:]
        InstrumentationSystem.instrument.inject(context, into: &carrier, using: DictionaryInjector())
        return carrier.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    /// The current span as a `traceparent` value, for an event written now.
    public static func currentTraceparent() -> String? {
        propagationHeaders().first { $0.0 == "traceparent" }?.1
    }

    /// Runs `work` in a span of `kind` whose parent is the span `traceparent` names (an
    /// event's), or a new trace when it names none.
    public static func withSpan<Result: Sendable>(
        _ name: String,
        continuing traceparent: String?,
        ofKind kind: SpanKind,
        _ work: (any Span) async throws -> Result
    ) async throws -> Result {
        try await Tracing.withSpan(name, context: context(continuing: traceparent), ofKind: kind) { span in try await work(span) }
    }

    /// The parent a request names in its headers, on top of the current context. Only a
    /// single well-formed `traceparent` counts: anything else starts a new trace. Nothing
    /// else reaches the tracer, which logs what it cannot read: `tracestate` (vendors'
    /// entries, which we have no use for) is dropped, so that junk in it cannot fill the
    /// logs, and no other header (tokens) can land there.
    static func context(extractedFrom fields: HTTPFields) -> ServiceContext {
        let values = fields[values: traceparentField]
        return context(continuing: values.count == 1 ? values[0] : nil)
    }

    static func context(continuing traceparent: String?) -> ServiceContext {
        var context = ServiceContext.current ?? .topLevel
        guard let traceparent, isWellFormed(traceparent: traceparent) else { return context }
        InstrumentationSystem.instrument.extract(["traceparent": traceparent], into: &context, using: DictionaryInjector())
        return context
    }

    /// W3C Trace Context's `traceparent`, version 00: `00-<32 hex>-<16 hex>-<2 hex>`, ids
    /// not all zeros, lowercase.
    static func isWellFormed(traceparent: String) -> Bool {
        guard traceparent.utf8.count == 55 else { return false }
        let bytes = Array(traceparent.utf8)
        guard bytes[2] == UInt8(ascii: "-"), bytes[35] == UInt8(ascii: "-"), bytes[52] == UInt8(ascii: "-") else {
            return false
        }
        let isHex = { (byte: UInt8) in
            (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
        }
        let fields = [bytes[0..<2], bytes[3..<35], bytes[36..<52], bytes[53..<55]]
        guard fields.allSatisfy({ $0.allSatisfy(isHex) }), fields[0].elementsEqual("00".utf8) else { return false }
        return fields[1].contains { $0 != UInt8(ascii: "0") } && fields[2].contains { $0 != UInt8(ascii: "0") }
    }

    static let traceparentField = HTTPField.Name("traceparent")!
}

struct DictionaryInjector: Injector, Extractor {
    func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) {
        carrier[key] = value
    }

    func extract(key: String, from carrier: [String: String]) -> String? {
        carrier[key]
    }
}

/// A server span for every request: its parent is the caller's span (`traceparent`),
/// its name the method and the route's pattern (never the path itself, so that the
/// names stay few), its attributes the status and the request id.
///
/// Install it right after ``RequestIDMiddleware``: the span then covers everything else,
/// and errors have become responses by the time it ends. Health checks and `/metrics`
/// (asked every few seconds by gateways and scrapers) make no spans.
public struct RequestTracingMiddleware: RouterMiddleware {
    public typealias Context = ShopRequestContext

    /// Whether a tracer was installed when the router was made (`shop serve` installs it
    /// before): without one, requests pass straight through, paying for no span.
    let enabled: Bool

    public init() {
        enabled = !(InstrumentationSystem.tracer is NoOpTracer)
    }

    public func handle(
        _ request: Request,
        context: ShopRequestContext,
        next: (Request, ShopRequestContext) async throws -> Response
    ) async throws -> Response {
        let path = request.uri.path
        guard enabled, !path.hasPrefix("/health/"), path != "/metrics" else { return try await next(request, context) }
        let method = request.method.rawValue
        let span = startSpan(method, context: Traces.context(extractedFrom: request.headers), ofKind: .server)
        defer { span.end() }
        span.attributes["http.request.method"] = method
        span.attributes["url.path"] = path
        span.attributes["shop.request_id"] = context.requestID
        do {
            let response = try await ServiceContext.withValue(span.context) {
                try await next(request, context)
            }
            if let route = context.endpointPath {
                span.operationName = "\(method) \(route)"
                span.attributes["http.route"] = route
            }
            span.attributes["http.response.status_code"] = Int(response.status.code)
            if response.status.code >= 500 { span.setStatus(SpanStatus(code: .error)) }
            return response
        } catch {
            span.recordError(error)
            span.setStatus(SpanStatus(code: .error))
            throw error
        }
    }
}
