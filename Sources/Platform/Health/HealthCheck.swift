public import Redis

/// Something `/health/ready` asks before it answers: the service's database, Redis.
public struct HealthCheck: Sendable {
    public let name: String
    /// Whether the instance is unready while it fails. A shared dependency that every
    /// instance uses the same way (Redis) is not: it failing would make every instance
    /// unready at once, turning a degraded shop into one that answers nothing. It is shown
    /// as `down` in the report and in `shop_health_check_up`, and alerted on.
    public let required: Bool
    public let check: @Sendable () async throws -> Void

    public init(_ name: String, required: Bool = true, check: @escaping @Sendable () async throws -> Void) {
        self.name = name
        self.required = required
        self.check = check
    }

    /// A check that the database answers a trivial query.
    public static func database(_ name: String, _ database: any Database) -> HealthCheck {
        HealthCheck(name) { try await database.ping() }
    }

    /// A check that Redis answers `PING`; not required (see ``required``).
    public static func redis(_ client: RedisClient) -> HealthCheck {
        HealthCheck("redis", required: false) {
            guard case .simpleString("PONG") = try await client.send("PING") else { throw RedisDidNotAnswerPing() }
        }
    }
}

/// Redis answered `PING` with something else than `PONG`.
struct RedisDidNotAnswerPing: Error {}

/// The outcome of one check.
public struct HealthStatus: Codable, Sendable, Hashable {
    public var name: String
    /// `up`, or `down` for a check that is not required.
    public var status: String

    public init(name: String, status: String) {
        self.name = name
        self.status = status
    }
}

/// The body of a healthy `/health/live` or `/health/ready`.
public struct HealthReport: Codable, Sendable, Hashable {
    public var status: String
    public var checks: [HealthStatus]

    public init(status: String, checks: [HealthStatus]) {
        self.status = status
        self.checks = checks
    }
}

extension HealthCheck {
    /// Runs every check at once, each bounded by `timeout`; returns the name and the
    /// error of those that failed, in the order given.
    static func run(_ checks: [HealthCheck], timeout: Duration) async -> [(String, (any Error)?)] {
        await withTaskGroup(of: (Int, (any Error)?).self) { group in
            for (index, check) in checks.enumerated() {
                group.addTask {
                    do {
                        try await withTimeout(timeout) { try await check.check() }
                        return (index, nil)
                    } catch {
                        return (index, error)
                    }
                }
            }
            var results = [(String, (any Error)?)](repeating: ("", nil), count: checks.count)
            for await (index, error) in group {
                results[index] = (checks[index].name, error)
            }
            return results
        }
    }
}

/// The operation took longer than it was given.
public struct TimedOut: Error, CustomStringConvertible {
    public var after: Duration
    public var description: String { "timed out after \(after)" }
}

/// Runs `body`, cancelling it and throwing ``TimedOut`` when it takes longer than `timeout`.
public func withTimeout<Result: Sendable>(
    _ timeout: Duration,
    _ body: @escaping @Sendable () async throws -> Result
) async throws -> Result {
    try await withThrowingTaskGroup(of: Result?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: timeout)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let result = first else {
            throw TimedOut(after: timeout)
        }
        return result
    }
}
