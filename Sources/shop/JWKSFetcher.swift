import AsyncHTTPClient
import Foundation
import InternalHTTP
import Logging
import NIOCore
import Platform
import Synchronization

/// The issuer's public keys, for a process that verifies tokens without holding a key
/// that can sign them: read from Users' `/.well-known/jwks.json` (``JWT_JWKS_URL``, one
/// instance or several), until it answers, then every `refresh`, and soon after a token
/// names a key the set lacks (a key rotated in), at most once every ten seconds.
final class JWKSFetcher: Sendable {
    let instances: ServiceInstances
    let keys: VerificationKeys
    let refresh: Duration
    let logger: Logger
    private let state = Mutex(State())
    static let unknownKeyGap = Duration.seconds(10)

    private struct State {
        var lastFetch: ContinuousClock.Instant?
        var unknownKeySeen = false
    }

    init(urls: String, keys: VerificationKeys, refresh: Duration = .seconds(300), logger: Logger) {
        self.instances = ServiceInstances(urls)
        self.keys = keys
        self.refresh = refresh
        self.logger = logger
        keys.whenUnknown { [weak self] _ in self?.state.withLock { $0.unknownKeySeen = true } }
    }

    /// Whether a fetch is due at `now`.
    func isDue(now: ContinuousClock.Instant = .now) -> Bool {
        state.withLock { state in
            guard let last = state.lastFetch, !keys.isEmpty else { return true }
            if now - last >= refresh { return true }
            return state.unknownKeySeen && now - last >= Self.unknownKeyGap
        }
    }

    /// Reads the set once (from the next instance that answers) and uses it.
    func fetch() async throws {
        state.withLock {
            $0.lastFetch = .now
            $0.unknownKeySeen = false
        }
        let set = try await instances.first(isDown: { _ in true }) { base in
            let response = try await OutgoingCall.client.execute(HTTPClientRequest(url: base + "/.well-known/jwks.json"), timeout: .seconds(2))
            let body = try await response.body.collect(upTo: 1 << 16)
            guard response.status == .ok else { throw JWKSUnavailable(reason: "\(base) answered \(response.status.code)") }
            return try JSONDecoder().decode(JSONWebKeySet.self, from: Data(body.readableBytesView))
        }
        do {
            try keys.replace(with: set)
        } catch {
            throw JWKSUnavailable(reason: error.reason)
        }
    }

    /// Fetches when due; a failure is logged and tried again a second later while no key
    /// is known, at the next refresh otherwise.
    func fetchIfDue() async {
        guard isDue() else { return }
        do {
            try await fetch()
        } catch {
            logger.warning("signing keys could not be read", metadata: ["error": "\(error)"])
        }
    }

    /// Required for readiness: an instance without keys cannot tell anyone who they are.
    var healthCheck: HealthCheck {
        HealthCheck("signing keys") { [keys] in
            if keys.isEmpty { throw JWKSUnavailable(reason: "no key read yet") }
        }
    }
}

struct JWKSUnavailable: Error, CustomStringConvertible {
    let reason: String
    var description: String { "the issuer's key set could not be read: \(reason)" }
}
