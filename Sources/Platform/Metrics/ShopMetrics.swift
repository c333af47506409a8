public import Prometheus
import Synchronization

/// The process's metrics, exposed in the Prometheus text format at `/metrics`.
///
/// One instance per process, made by the composition root and passed to what records
/// into it; the names are the contract with dashboards and alert rules.
public final class ShopMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry

    /// Rate-limit lookups that failed because the store did not answer.
    public let rateLimitStoreFailures: Counter
    /// Requests refused with 429.
    public let rateLimited: Counter
    /// Outbox rows published by the relay.
    public let eventsRelayed: Counter
    /// Relay passes that failed and will be retried.
    public let relayFailures: Counter
    /// Each request series' counter and histogram, found once: the registry checks the
    /// names and labels every time it is asked, which was a few percent of a cached read.
    /// As bounded as the series themselves (routes are patterns; methods and statuses few),
    /// and capped besides.
    private let requestSeries = Mutex<[RequestSeries: (Counter, DurationHistogram)]>([:])

    private struct RequestSeries: Hashable {
        let method: String
        let route: String
        let status: Int
    }

    /// Upper bounds of the duration histograms. 200 ms is the seed's p95 target, which the
    /// alert rules compare against: with a bucket there, the quantile is exact at the
    /// threshold instead of interpolated between 100 and 250 ms.
    static let durationBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
        .milliseconds(100), .milliseconds(200), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(5),
    ]

    public init() {
        let registry = PrometheusCollectorRegistry()
        self.registry = registry
        rateLimitStoreFailures = registry.makeCounter(
            descriptor: Self.name("rate_limit_store_failures", "total", "Rate-limit lookups that failed because the store did not answer.")
        )
        rateLimited = registry.makeCounter(descriptor: Self.name("rate_limited", "total", "Requests refused with 429."))
        eventsRelayed = registry.makeCounter(descriptor: Self.name("outbox_relayed", "total", "Outbox rows published to the bus."))
        relayFailures = registry.makeCounter(
            descriptor: Self.name("outbox_relay_failures", "total", "Relay passes that failed and are retried.")
        )
    }

    /// What one outbox (`outbox`: its service's event source without the slash, e.g.
    /// `orders`) holds unsent, as of its relay's last look: how many rows, and the age in
    /// seconds of the oldest (0 when none). All-in-one runs five relays in one process,
    /// so each has its own series.
    public func recordOutbox(_ outbox: String, backlog: Int, lagSeconds: Double) {
        registry.makeGauge(descriptor: Self.outboxBacklog, labels: [("outbox", outbox)]).set(Double(backlog))
        registry.makeGauge(descriptor: Self.outboxLag, labels: [("outbox", outbox)]).set(lagSeconds)
    }

    /// Counts one answered request and its duration, by method, route and status.
    public func recordRequest(method: String, route: String, status: Int, duration: Duration) {
        let key = RequestSeries(method: method, route: route, status: status)
        let (counter, histogram) =
            requestSeries.withLock { $0[key] }
            ?? {
                let series = (
                    registry.makeCounter(
                        descriptor: Self.httpRequests,
                        labels: [("method", method), ("route", route), ("status", String(status))]
                    ),
                    registry.makeDurationHistogram(
                        descriptor: Self.httpDuration,
                        labels: [("method", method), ("route", route)],
                        buckets: Self.durationBuckets
                    )
                )
                requestSeries.withLock { if $0.count < 4_096 { $0[key] = series } }
                return series
            }()
        counter.increment()
        histogram.record(duration)
    }

    /// Counts what happened to one event at one consumer: `handled`, `duplicate`,
    /// `retried` or `dead_lettered`.
    public func recordDelivery(consumer: String, outcome: String) {
        registry.makeCounter(descriptor: Self.deliveries, labels: [("consumer", consumer), ("outcome", outcome)]).increment()
    }

    /// A breaker for calls to the upstream `name`, its state exported as
    /// `shop_circuit_breaker_state{breaker="name"}` (0 closed, 1 half-open, 2 open) and the
    /// calls it refuses as `shop_circuit_breaker_rejections_total{breaker="name"}`.
    ///
    /// `name` comes from code, one per upstream (a breaker made twice with one name shares
    /// its series), so the series stay few.
    public func circuitBreaker(
        name: String,
        configuration: CircuitBreaker.Configuration = CircuitBreaker.Configuration(),
        now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }
    ) -> CircuitBreaker {
        let state = registry.makeGauge(descriptor: Self.circuitBreakerState, labels: [("breaker", name)])
        let rejections = registry.makeCounter(descriptor: Self.circuitBreakerRejections, labels: [("breaker", name)])
        state.set(to: Self.gaugeValue(of: .closed))
        return CircuitBreaker(
            name: name,
            configuration: configuration,
            now: now,
            onStateChange: { _, newState in state.set(to: Self.gaugeValue(of: newState)) },
            onRejection: { _ in rejections.increment() }
        )
    }

    /// Sets `shop_gateway_upstream_healthy{upstream, upstream_instance}`: 1 while the
    /// gateway sends requests to the instance, 0 while it passed no health check, is
    /// ejected or its breaker is open. Both labels come from configuration.
    public func recordUpstreamHealth(upstream: String, instance: String, healthy: Bool) {
        registry.makeGauge(descriptor: Self.upstreamHealthy, labels: [("upstream", upstream), ("upstream_instance", instance)])
            .set(to: healthy ? 1 : 0)
    }

    /// Sets `shop_health_check_up{check}` to what the last `/health/ready` found: 1 the
    /// check passed, 0 it failed. The names come from the code (`users database`, `redis`).
    public func recordHealthCheck(_ check: String, up: Bool) {
        registry.makeGauge(descriptor: Self.healthCheckUp, labels: [("check", check)]).set(to: up ? 1 : 0)
    }

    static var healthCheckUp: MetricNameDescriptor {
        name("health_check_up", "", "What the last readiness check found of each dependency: 1 answering, 0 not.")
    }

    /// Counts one request the gateway sent again, to another instance of `upstream`.
    public func recordGatewayRetry(upstream: String) {
        registry.makeCounter(descriptor: Self.gatewayRetries, labels: [("upstream", upstream)]).increment()
    }

    static var upstreamHealthy: MetricNameDescriptor {
        name("gateway_upstream_healthy", "", "Whether the gateway sends requests to an upstream instance: 1 yes, 0 no.")
    }
    static var gatewayRetries: MetricNameDescriptor {
        name("gateway_retries", "total", "Requests the gateway sent again to another instance after a failure before any answer.")
    }

    static func gaugeValue(of state: CircuitBreaker.State) -> Double {
        switch state {
        case .closed: 0
        case .halfOpen: 1
        case .open: 2
        }
    }

    /// Counts one read-cache lookup: `hit`, `miss` or `error` (the cache did not answer
    /// and the database did).
    public func recordCacheLookup(cache: String, outcome: String) {
        registry.makeCounter(descriptor: Self.cacheLookups, labels: [("cache", cache), ("outcome", outcome)]).increment()
    }

    /// Counts one attempt to send a notification, by channel, kind and outcome (`sent`,
    /// `retried`, `dead`), with how long it took. Every label comes from code, never from a
    /// client, so the series stay few.
    public func recordNotification(channel: String, kind: String, outcome: String, duration: Duration) {
        registry.makeCounter(
            descriptor: Self.notifications,
            labels: [("channel", channel), ("kind", kind), ("outcome", outcome)]
        ).increment()
        registry.makeDurationHistogram(
            descriptor: Self.notificationDuration,
            labels: [("channel", channel)],
            buckets: Self.durationBuckets
        ).record(duration)
    }

    /// How long a sent notification took from being queued (its event handled) to being
    /// taken by the server or endpoint, retries included, by channel.
    public func recordNotificationLatency(channel: String, seconds: Double) {
        registry.makeDurationHistogram(
            descriptor: Self.notificationLatency,
            labels: [("channel", channel)],
            buckets: Self.latencyBuckets
        ).record(.milliseconds(Int64(max(0, seconds) * 1000)))
    }

    /// From a tenth of a second to a day: a message retried for hours still lands in a bucket.
    static let latencyBuckets: [Duration] = [0.1, 0.5, 1, 5, 30, 60, 300, 1800, 3600, 14_400, 86_400].map { .milliseconds(Int64($0 * 1000)) }

    static var notificationLatency: MetricNameDescriptor {
        name("notification_delivery_latency", "seconds", "Time from a notification being queued to its delivery, retries included.")
    }

    /// Counts a notification that was not made, and why (`opted_out`, `no_address`).
    public func recordNotificationSkipped(channel: String, reason: String) {
        registry.makeCounter(descriptor: Self.notificationsSkipped, labels: [("channel", channel), ("reason", reason)]).increment()
    }

    static var notifications: MetricNameDescriptor {
        name("notifications", "total", "Attempts to send notifications, by channel, kind and outcome.")
    }
    static var notificationDuration: MetricNameDescriptor { name("notification_send_duration", "seconds", "Time one send attempt took.") }
    static var notificationsSkipped: MetricNameDescriptor {
        name("notifications_skipped", "total", "Notifications not made because the recipient opted out or has no address.")
    }
    static var cacheLookups: MetricNameDescriptor { name("cache_lookups", "total", "Read-cache lookups, by cache and outcome.") }
    static var httpRequests: MetricNameDescriptor { name("http_requests", "total", "HTTP requests answered, by method, route and status.") }
    static var httpDuration: MetricNameDescriptor { name("http_request_duration", "seconds", "Time to answer HTTP requests.") }
    static var circuitBreakerState: MetricNameDescriptor {
        name("circuit_breaker_state", "", "State of each circuit breaker: 0 closed, 1 half-open, 2 open.")
    }
    static var circuitBreakerRejections: MetricNameDescriptor {
        name("circuit_breaker_rejections", "total", "Calls refused without being made because their circuit breaker was open.")
    }
    static var outboxBacklog: MetricNameDescriptor { name("outbox_backlog", "", "Unsent outbox rows, by outbox.") }
    static var outboxLag: MetricNameDescriptor { name("outbox_lag", "seconds", "Age of the oldest unsent outbox row, by outbox.") }
    static var deliveries: MetricNameDescriptor { name("event_deliveries", "total", "Event deliveries to consumers, by outcome.") }

    private static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "shop", metricName: metric, unitName: unit, helpText: help)
    }

    /// The Prometheus text exposition of every metric.
    public func exposition() -> [UInt8] {
        registry.emitToBuffer()
    }
}
