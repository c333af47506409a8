import Crypto
public import Foundation
public import Hummingbird
import Logging
public import Platform
import Synchronization

/// How the gateway guards `/api/v1`.
public struct GuardConfiguration: Sendable {
    /// For every caller: 100 requests a minute by default.
    public var defaultPolicy = RateLimitPolicy(name: "default", limit: 100, window: .seconds(60))
    /// Stricter, for logins and registrations, per client address.
    public var credentialPolicy = RateLimitPolicy(name: "credentials", limit: 10, window: .seconds(60))
    /// When the rate-limit store cannot be asked: let requests through (with a warning)
    /// or refuse them with `UPSTREAM_UNAVAILABLE`.
    public var failOpen = true
    /// Peers whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed.
    public var trustedProxies: TrustedProxies = .none
    /// Origins a browser may call the API from (CORS); empty: none.
    public var allowedOrigins: Set<String> = []
    /// The internal API token, for a service behind the gateway: a request that shows it in
    /// ``GatewayToken/header`` was counted by the gateway, so it is not counted again here,
    /// and its client is the one the gateway names in `X-Forwarded-For`. Its bearer token
    /// is verified all the same.
    public var gatewayToken: String?

    public init() {}
}

/// The gateway's guard in front of every `/api/v1` route: who is calling (bearer
/// token), from where (client address), and how much (rate limits, with the headers of
/// `API.md` on every response).
///
/// An invalid token is refused even on routes open to anonymous callers: a client that
/// sends credentials must send good ones.
///
/// Behind the gateway (``GuardConfiguration/gatewayToken``), requests the gateway vouches
/// for are not rate limited again.
public struct EdgeGuard: RouterMiddleware {
    public typealias Context = ShopRequestContext

    let tokens: AccessTokens
    /// When users' sessions were ended; a token issued before is refused.
    let cutoffs: (any SessionCutoffs)?
    let store: any RateLimitStore
    let configuration: GuardConfiguration
    let metrics: ShopMetrics?
    let now: @Sendable () -> Date
    private let warnings = WarningThrottle()
    private let gatewayDigest: SHA256.Digest?

    public init(
        tokens: AccessTokens,
        cutoffs: (any SessionCutoffs)? = nil,
        store: any RateLimitStore,
        configuration: GuardConfiguration,
        metrics: ShopMetrics? = nil,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.tokens = tokens
        self.cutoffs = cutoffs
        self.store = store
        self.configuration = configuration
        self.metrics = metrics
        self.now = now
        gatewayDigest = configuration.gatewayToken.map { SHA256.hash(data: Data($0.utf8)) }
    }

    public func handle(
        _ request: Request,
        context: ShopRequestContext,
        next: (Request, ShopRequestContext) async throws -> Response
    ) async throws -> Response {
        // The route the router matched decides, never the raw path: the router ignores
        // empty segments, so `//api/v1/auth/token/` reaches the login handler too.
        let route = context.endpointPath ?? RoutePath.collapsed(request.uri.path)
        guard route.hasPrefix("/api/v1/") else { return try await next(request, context) }
        var context = context
        let viaGateway = isFromGateway(request)
        context.clientAddress = ClientAddress.resolve(
            peer: context.remoteAddress?.ipAddress,
            forwardedFor: request.headers[values: .xForwardedFor],
            trustedProxies: configuration.trustedProxies,
            trustingPeer: viaGateway
        )
        var refusal: InvalidAccessToken?
        var verifiedToken: String?
        var readAlong: ReadAlong?
        if let authorization = request.headers[.authorization] {
            do {
                let token = try Self.bearerToken(authorization)
                let principal = try tokens.verify(token, now: now())
                // After the cache of verified tokens, so a token that verified before its
                // user's sessions ended is refused from then on.
                let checked = try await check(principal, logger: context.logger)
                if checked.revoked { throw InvalidAccessToken.revoked }
                readAlong = checked.readAlong
                context.principal = principal
                verifiedToken = token
            } catch let error as InvalidAccessToken {
                refusal = error
                context.logger.debug("bearer token refused", metadata: ["reason": "\(error)"])
            }
        }
        // The gateway counted it already; counting it again would halve every limit.
        let decision = viaGateway ? nil : try await limit(request, route: route, context: context)
        if let decision, !decision.allowed {
            metrics?.rateLimited.increment()
            throw APIError(
                .rateLimited,
                "Too many requests; retry in \(decision.secondsLeft) seconds",
                headers: decision.headers
            )
        }
        if let refusal {
            var error = refusal.apiError
            if let decision { error.headers.append(contentsOf: decision.headers) }
            throw error
        }
        var response = try await RequestActor.$userID.withValue(context.principal?.userID) {
            try await CallerToken.$current.withValue(verifiedToken) {
                try await ReadAlong.$current.withValue(readAlong) {
                    try await next(request, context)
                }
            }
        }
        if let decision { response.headers.append(contentsOf: decision.headers) }
        return response
    }

    /// Whether the request shows the gateway's token (compared as digests, in constant time).
    private func isFromGateway(_ request: Request) -> Bool {
        guard let gatewayDigest, let presented = request.headers[GatewayToken.header] else { return false }
        return SHA256.hash(data: Data(presented.utf8)) == gatewayDigest
    }

    /// Whether the sessions of `principal`'s user ended after its token was issued. A
    /// store that does not answer is treated like the rate-limit store: open or closed.
    private func check(_ principal: Principal, logger: Logger) async throws -> (revoked: Bool, readAlong: ReadAlong?) {
        guard let cutoffs else { return (false, nil) }
        do {
            return try await cutoffs.check(principal)
        } catch {
            metrics?.rateLimitStoreFailures.increment()
            warnAboutStore(error, logger: logger)
            guard configuration.failOpen else {
                throw APIError(.upstreamUnavailable, "Sessions cannot be checked; try again shortly")
            }
            return (false, nil)
        }
    }

    /// The token of an `Authorization: Bearer <token>` header.
    static func bearerToken(_ authorization: String) throws(InvalidAccessToken) -> String {
        // Bytes, not Characters, on the hot path: a token is ASCII, and grapheme
        // breaking (or Foundation's trimming) over 400 characters costs more than the rest.
        let bytes = authorization.utf8
        guard let space = bytes.firstIndex(of: UInt8(ascii: " ")) else { throw .malformed }
        let scheme = bytes[..<space]
        guard scheme.count == 6, zip(scheme, "bearer".utf8).allSatisfy({ $0 | 0x20 == $1 }) else { throw .malformed }
        let rest = bytes[bytes.index(after: space)...].drop { $0 == UInt8(ascii: " ") }
        let token = rest.prefix { $0 != UInt8(ascii: " ") }
        guard !token.isEmpty, rest[token.endIndex...].allSatisfy({ $0 == UInt8(ascii: " ") }) else { throw .malformed }
        return String(decoding: token, as: UTF8.self)
    }

    private func limit(_ request: Request, route: String, context: ShopRequestContext) async throws -> RateLimitDecision {
        let policy: RateLimitPolicy
        let subject: String
        if isCredentialRoute(request.method, route: route, principal: context.principal) {
            policy = configuration.credentialPolicy
            subject = "ip:\(context.clientAddress ?? "unknown")"
        } else if let principal = context.principal {
            policy = configuration.defaultPolicy
            subject = "user:\(principal.userID)"
        } else {
            policy = configuration.defaultPolicy
            subject = "ip:\(context.clientAddress ?? "unknown")"
        }
        do {
            let count = try await store.hit(subject, policy: policy, now: now())
            return RateLimitDecision(policy: policy, used: count.used, secondsLeft: count.secondsLeft)
        } catch {
            metrics?.rateLimitStoreFailures.increment()
            warnAboutStore(error, logger: context.logger)
            guard configuration.failOpen else {
                throw APIError(.upstreamUnavailable, "Rate limiting is unavailable; try again shortly")
            }
            return RateLimitDecision(policy: policy, used: nil, secondsLeft: Int(policy.windowSeconds))
        }
    }

    /// Logins, refreshes, and what an anonymous caller makes the server keep (registrations,
    /// guest carts, guest orders): where passwords are guessed, and accounts and rows farmed. An admin
    /// registering users counts against their own limit.
    private func isCredentialRoute(_ method: HTTPRequest.Method, route: String, principal: Principal?) -> Bool {
        guard method == .post else { return false }
        if route == "/api/v1/auth/token" || route == "/api/v1/auth/refresh" { return true }
        return (route == "/api/v1/users" || route == "/api/v1/carts" || route == "/api/v1/orders") && principal == nil
    }

    /// At most one warning every 10 seconds while the store is failing.
    private func warnAboutStore(_ error: any Error, logger: Logger) {
        if warnings.isDue() {
            logger.warning(
                "rate-limit store unavailable",
                metadata: ["error": "\(error)", "fail_open": "\(configuration.failOpen)"]
            )
        }
    }
}

/// Lets a repeated warning through once every 10 seconds.
final class WarningThrottle: Sendable {
    private let last = Mutex(ContinuousClock.Instant.now - .seconds(60))

    func isDue() -> Bool {
        last.withLock { last in
            let now = ContinuousClock.Instant.now
            guard now - last >= .seconds(10) else { return false }
            last = now
            return true
        }
    }
}

/// Where a request really comes from.
enum ClientAddress {
    /// The peer, unless it is a trusted proxy (or `trustingPeer`, the gateway): then the
    /// nearest address in `X-Forwarded-For` that is not a trusted proxy itself.
    static func resolve(peer: String?, forwardedFor: [String], trustedProxies: TrustedProxies, trustingPeer: Bool = false) -> String? {
        guard trustingPeer || peer.map({ trustedProxies.contains($0) }) == true else { return peer }
        let hops = forwardedFor.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }
        for hop in hops.reversed() where !hop.isEmpty && !trustedProxies.contains(hop) {
            return hop
        }
        return peer
    }
}
