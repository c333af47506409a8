import Foundation
import NIOPosix
import Synchronization
import Testing

@testable import UserService

@Suite struct PasswordHasherTests {
    let hasher = PasswordHasher(cost: 4)

    @Test func aHashVerifiesItsPasswordAndNoOther() async throws {
        let hash = try await hasher.hash(try Password("correct horse battery staple"))
        #expect(hash.hasPrefix("$2"))
        #expect(!hash.contains("correct horse"))
        #expect(try await hasher.verify("correct horse battery staple", against: hash))
        #expect(try await !hasher.verify("correct horse battery stapl", against: hash))
        #expect(try await !hasher.verify("correct horse battery staple", against: nil))
    }

    /// bcrypt alone reads 72 bytes; the pre-hash makes the rest of a long password count.
    @Test func everyCharacterOfALongPasswordCounts() async throws {
        let prefix = String(repeating: "a", count: 100)
        let hash = try await hasher.hash(try Password(prefix + "1"))
        #expect(try await !hasher.verify(prefix + "2", against: hash))
    }

    @Test func aBurstBeyondTheQueueIsRefusedAtOnceAndTheRestSucceed() async throws {
        let hasher = PasswordHasher(cost: 8, maxWaiting: 2)
        let password = try Password("correct horse battery staple")
        let outcomes = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<20 {
                group.addTask { (try? await hasher.hash(password)) != nil }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        let threads = ProcessInfo.processInfo.activeProcessorCount
        #expect(outcomes.filter { $0 }.count >= threads + 2, "the threads and the queue were used")
        #expect(outcomes.contains(false), "past the queue, refused")
        await #expect(throws: Never.self) { try await hasher.hash(password) }
    }

    @Test func hashingNeverWaitsOnTheThreadPoolDatabaseDriversUse() async throws {
        // SQLite runs its blocking calls on NIO's shared pool; a burst of hashes on it
        // stalled every query. The shared pool must answer while hashes are still running.
        let hasher = PasswordHasher(cost: 12, maxWaiting: 64)
        let password = try Password("correct horse battery staple")
        let hashesDone = DoneCount()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<16 {
                group.addTask {
                    _ = try await hasher.hash(password)
                    hashesDone.value.add(1, ordering: .relaxed)
                }
            }
            try await Task.sleep(for: .milliseconds(50))
            let duringBurst = try await NIOThreadPool.singleton.runIfActive { hashesDone.value.load(ordering: .relaxed) }
            // On the shared pool the probe queued behind the burst: 14 of 16 were done.
            #expect(duringBurst < 8, "the shared pool answered while most hashes were still running")
            try await group.waitForAll()
        }
    }
}

final class DoneCount: Sendable {
    let value = Atomic<Int>(0)
}
