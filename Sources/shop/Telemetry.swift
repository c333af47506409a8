import Logging
import OTel
import ServiceLifecycle

/// Traces over OpenTelemetry, on when an OTLP endpoint is configured: the standard
/// variables (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, or
/// `OTEL_TRACES_EXPORTER=otlp|console`) turn them on, and `OTEL_SDK_DISABLED=true` or
/// `OTEL_TRACES_EXPORTER=none` off. Everything else (`OTEL_EXPORTER_OTLP_PROTOCOL`,
/// `OTEL_TRACES_SAMPLER`, `OTEL_BSP_SCHEDULE_DELAY`, ...) is read by swift-otel as its
/// specification says. Logs and metrics stay ours (JSON lines, `/metrics`); only spans
/// leave the process.
enum Telemetry {
    static func tracingEnabled(_ environment: [String: String]) -> Bool {
        if environment["OTEL_SDK_DISABLED"]?.lowercased() == "true" { return false }
        if let exporter = environment["OTEL_TRACES_EXPORTER"]?.lowercased() { return exporter != "none" }
        return ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"].contains { environment[$0]?.isEmpty == false }
    }

    /// What adds `trace_id` and `span_id` to log lines, when tracing is on.
    static func logMetadata(_ environment: [String: String]) -> Logger.MetadataProvider? {
        tracingEnabled(environment) ? OTel.makeLoggingMetadataProvider() : nil
    }

    /// Installs the tracer and returns the service that exports its spans (run it first in
    /// the service group, so it stops last and sends the spans of the drain), or `nil`
    /// when tracing is off. `service` names the process (`shop-orders`) unless
    /// `OTEL_SERVICE_NAME` does.
    static func bootstrapTracing(_ environment: [String: String], service: String, logger: Logger) throws -> (any Service)? {
        guard tracingEnabled(environment) else { return nil }
        var configuration = OTel.Configuration.default
        configuration.serviceName = service
        configuration.diagnosticLogger = .custom(logger)
        configuration.logs.enabled = false
        configuration.metrics.enabled = false
        configuration.traces.enabled = true
        return try OTel.bootstrap(configuration: configuration, environment: environment)
    }
}
