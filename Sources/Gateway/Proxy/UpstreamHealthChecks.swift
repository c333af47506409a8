public import AsyncHTTPClient
import NIOCore
import ServiceContract

/// Asks every instance of every upstream for `GET /health/ready`: an instance that does
/// not answer 200 takes no requests until it does, and one that answers again rejoins.
///
/// Checks go through the instance's breaker, so that an open breaker's trial after its
/// open duration is a health check rather than a client's request.
public struct UpstreamHealthChecks: Sendable {
    let upstreams: [Upstream]
    let client: HTTPClient
    let timeout: Duration

    public init(upstreams: [Upstream], client: HTTPClient, timeout: Duration) {
        self.upstreams = upstreams
        self.client = client
        self.timeout = timeout
    }

    /// Checks every instance at once and records the outcomes.
    public func checkAll() async {
        await withTaskGroup(of: Void.self) { group in
            for instance in upstreams.flatMap(\.instances) {
                group.addTask { await check(instance) }
            }
        }
    }

    private func check(_ instance: UpstreamInstance) async {
        let request = HTTPClientRequest(url: "\(instance.address)/health/ready")
        do {
            let ready = try await instance.breaker.run {
                let response = try await client.execute(request, timeout: TimeAmount(timeout))
                _ = try await response.body.collect(upTo: 64 << 10)
                return response.status == .ok
            }
            instance.checked(healthy: ready)
        } catch is CircuitOpenError {
            // Its breaker is open: it takes no requests, and the check after the breaker's
            // open duration is its trial.
            return
        } catch {
            guard !Task.isCancelled else { return }
            instance.checked(healthy: false)
        }
    }
}
