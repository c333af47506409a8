/// Something `/health/ready` asks before it answers: a database, later Redis or an
/// upstream service.
public struct HealthCheck: Sendable {
    public let name: String
    public let check: @Sendable () async throws -> Void

    public init(_ name: String, check: @escaping @Sendable () async throws -> Void) {
        self.name = name
        self.check = check
    }

    /// A check that the database answers a trivial query.
    public static func database(_ name: String, _ database: any Database) -> HealthCheck {
        HealthCheck(name) { try await database.ping() }
    }
}

/// The outcome of one check.
public struct HealthStatus: Codable, Sendable, Hashable {
    public var name: String
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
