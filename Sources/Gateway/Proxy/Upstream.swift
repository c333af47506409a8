public import Platform
public import ServiceContract
import Synchronization

/// One service behind the gateway: its instances, taken in turn among those that may
/// take requests now.
public final class Upstream: Sendable {
    /// The service's name (`users`), from configuration: it labels metrics.
    public let name: String
    public let instances: [UpstreamInstance]
    private let turn = Atomic<Int>(0)

    /// - Parameters:
    ///   - name: the service, as metrics and errors call it.
    ///   - addresses: its instances, from configuration only (they label metrics).
    ///   - breaker: the configuration of each instance's circuit breaker.
    ///   - metrics: shows each instance's breaker and whether it takes requests.
    public init(
        name: String,
        addresses: [UpstreamAddress],
        breaker: CircuitBreaker.Configuration = CircuitBreaker.Configuration(),
        ejection: EjectionPolicy = EjectionPolicy(),
        metrics: ShopMetrics? = nil,
        now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }
    ) {
        precondition(!addresses.isEmpty, "an upstream needs at least one instance")
        self.name = name
        instances = addresses.map { address in
            let breakerName = "\(name)@\(address)"
            return UpstreamInstance(
                upstream: name,
                address: address,
                breaker: metrics?.circuitBreaker(name: breakerName, configuration: breaker, now: now)
                    ?? CircuitBreaker(name: breakerName, configuration: breaker, now: now),
                ejection: ejection,
                now: now,
                onAvailability: { healthy in
                    metrics?.recordUpstreamHealth(upstream: name, instance: address.description, healthy: healthy)
                }
            )
        }
    }

    /// The instances that may take requests now, starting with the next one's turn.
    public func rotation() -> [UpstreamInstance] {
        let available = instances.filter(\.isAvailable)
        guard !available.isEmpty else { return [] }
        let start = turn.wrappingAdd(1, ordering: .relaxed).oldValue
        let first = (start % available.count + available.count) % available.count
        return Array(available[first...] + available[..<first])
    }

    /// Whole seconds until some instance may take requests again (at least 1).
    func retryAfter(healthInterval: Duration) -> Int {
        let wait = instances.map { $0.wait(healthInterval: healthInterval) }.min() ?? healthInterval
        let seconds = Double(wait.components.seconds) + Double(wait.components.attoseconds) / 1e18
        return max(1, Int(seconds.rounded(.up)))
    }
}
