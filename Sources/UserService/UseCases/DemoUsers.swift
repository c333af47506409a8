import Foundation
import Platform

/// The demo customers of `shop seed`.
public struct DemoUsers: Sendable {
    let store: UserStore
    let now: @Sendable () -> Date

    /// Registers `count` demo customers named `user<N>@example.com` without a password
    /// (they cannot log in), skipping existing ones.
    public func seed(count: Int) async throws {
        let batchSize = 1000
        for start in stride(from: 0, to: count, by: batchSize) {
            let users = try (start..<min(start + batchSize, count)).map { index in
                NewUser(email: try EmailAddress("user\(index + 1)@example.com"), name: try PersonName("Demo User \(index + 1)"))
            }
            try await store.createMany(users, at: now())
        }
    }
}
