import Foundation
public import HTTPTypes
public import Platform

/// A named limit: at most `limit` requests per `window` for one caller (`API.md`).
public struct RateLimitPolicy: Sendable, Hashable {
    public var name: String
    public var limit: Int
    public var window: Duration

    public init(name: String, limit: Int, window: Duration) {
        self.name = name
        self.limit = limit
        self.window = window
    }

    /// Parses `100/60` (requests per seconds).
    public init(name: String, parsing raw: String) throws(InvalidValue) {
        let parts = raw.split(separator: "/")
        guard parts.count == 2, let limit = Int(parts[0]), let seconds = Int(parts[1]),
            (1...1_000_000).contains(limit), (1...86_400).contains(seconds)
        else { throw InvalidValue("must be REQUESTS/SECONDS such as 100/60, got '\(raw)'") }
        self.init(name: name, limit: limit, window: .seconds(seconds))
    }

    var windowSeconds: Int64 { window.components.seconds }

    /// `RateLimit-Policy`: `"default";q=100;w=60`.
    var policyHeader: String { "\"\(name)\";q=\(limit);w=\(windowSeconds)" }
}

/// What a rate limiter decided for one request.
public struct RateLimitDecision: Sendable, Hashable {
    public let policy: RateLimitPolicy
    /// `nil` when the store could not be asked and the limiter failed open.
    public let used: Int?
    public let secondsLeft: Int

    public var allowed: Bool { (used ?? 0) <= policy.limit }
    public var remaining: Int { max(0, policy.limit - (used ?? 0)) }

    /// `RateLimit-Policy` and `RateLimit` (and `Retry-After` when refused).
    public var headers: HTTPFields {
        var fields: HTTPFields = [.rateLimitPolicy: policy.policyHeader]
        if used != nil {
            fields[.rateLimit] = "\"\(policy.name)\";r=\(remaining);t=\(secondsLeft)"
        }
        if !allowed { fields[.retryAfter] = String(secondsLeft) }
        return fields
    }
}

extension HTTPField.Name {
    static let rateLimitPolicy = HTTPField.Name("RateLimit-Policy")!
    static let rateLimit = HTTPField.Name("RateLimit")!
    static let xForwardedFor = HTTPField.Name("X-Forwarded-For")!
    static let xForwardedProto = HTTPField.Name("X-Forwarded-Proto")!
}
