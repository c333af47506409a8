import Crypto
import Foundation
import HummingbirdBcrypt
import NIOPosix
import Synchronization

/// Hashes and checks passwords with bcrypt, on threads of its own.
///
/// A password is first reduced to base64(SHA-256(password)), 44 ASCII characters, so
/// that every one of its up to 128 characters counts: bcrypt alone reads only 72 bytes.
///
/// bcrypt is slow on purpose, so it never runs on the pool that database drivers use
/// (SQLite blocks on NIO's shared thread pool): a burst of logins would stall every
/// query. Its own pool has a thread per core and a bounded queue; past the queue a
/// request is refused with ``PasswordHashingBusy`` at once instead of waiting for minutes.
struct PasswordHasher: Sendable {
    /// The bcrypt cost (work factor 2^cost): 12 by default.
    let cost: UInt8
    /// How many hashes may wait for a thread before more are refused.
    let maxWaiting: Int
    /// A hash of nothing anyone knows, checked when the email is unknown so that a failed
    /// login costs the same whether or not the account exists.
    private let decoy: String
    private let load = Load()

    /// One pool for the process: bcrypt needs every core it can get, and no more threads.
    static let pool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: max(1, ProcessInfo.processInfo.activeProcessorCount))
        pool.start()
        return pool
    }()

    init(cost: UInt8, maxWaiting: Int = 64) {
        self.cost = cost
        self.maxWaiting = max(0, maxWaiting)
        self.decoy = Bcrypt.hash(Self.prepared(UUID().uuidString), cost: cost)
    }

    func hash(_ password: Password) async throws -> String {
        let cost = self.cost
        return try await run { Bcrypt.hash(Self.prepared(password.value), cost: cost) }
    }

    /// Whether `password` matches `hash`; with no hash, the same work and `false`.
    func verify(_ password: String, against hash: String?) async throws -> Bool {
        let decoy = self.decoy
        return try await run {
            let matches = Bcrypt.verify(Self.prepared(password), hash: hash ?? decoy)
            return hash != nil && matches
        }
    }

    private func run<Result: Sendable>(_ work: @escaping @Sendable () -> Result) async throws -> Result {
        let threads = max(1, ProcessInfo.processInfo.activeProcessorCount)
        guard load.enter(limit: threads + maxWaiting) else { throw PasswordHashingBusy() }
        defer { load.leave() }
        return try await Self.pool.runIfActive(work)
    }

    private static func prepared(_ password: String) -> String {
        Data(SHA256.hash(data: Data(password.utf8))).base64EncodedString()
    }

    /// Hashes running or waiting.
    final class Load: Sendable {
        private let count = Atomic<Int>(0)

        func enter(limit: Int) -> Bool {
            if count.add(1, ordering: .relaxed).newValue <= limit { return true }
            count.subtract(1, ordering: .relaxed)
            return false
        }

        func leave() {
            count.subtract(1, ordering: .relaxed)
        }
    }
}

/// More passwords are waiting to be hashed than the server takes on: the caller should
/// retry shortly (503 with `Retry-After`).
struct PasswordHashingBusy: Error, Hashable {}
