import Platform
import Synchronization
import Testing

/// Reads asked together, never in a round sent before they came.
@Suite struct ReadRoundsTests {
    /// What the fake Redis saw: each round's products, and how many hits had arrived when it
    /// was sent.
    final class Log: Sendable {
        let arrived = Atomic<Int>(0)
        let rounds = Mutex<[(products: Set<Int64>, arrivedBefore: Int)]>([])
    }

    @Test func hitsThatArriveDuringARoundShareTheNextAndEachGetsItsOwnCounts() async throws {
        let log = Log()
        let rounds = ReadRounds<Int64, (generation: Int, counts: [Int64: Int])> { products in
            let arrived = log.arrived.load(ordering: .sequentiallyConsistent)
            log.rounds.withLock { $0.append((Set(products), arrived)) }
            try await Task.sleep(for: .milliseconds(5))
            // Each product's count is its id times ten, the generation the round's number.
            let number = log.rounds.withLock { $0.count }
            return (number, Dictionary(uniqueKeysWithValues: products.map { ($0, Int($0) * 10) }))
        }
        let answers = try await withThrowingTaskGroup(of: (Int, [Int64], Int, [Int64: Int]).self) { group in
            for hit in 0..<200 {
                group.addTask {
                    let products: [Int64] = [Int64(hit), Int64(hit + 1000)]
                    let order = log.arrived.add(1, ordering: .sequentiallyConsistent).newValue
                    let answer = try await rounds.read(products)
                    return (order, products, answer.generation, answer.counts)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let seen = log.rounds.withLock { $0 }
        #expect(answers.count == 200)
        #expect(seen.count < 200, "200 hits took \(seen.count) rounds")
        for (order, products, round, counts) in answers {
            // Its own products, counted.
            for product in products { #expect(counts[product] == Int(product) * 10) }
            // Answered by a round that asked about its products and was sent after it arrived.
            let sent = seen[round - 1]
            #expect(sent.products.isSuperset(of: products))
            #expect(sent.arrivedBefore >= order, "hit \(order) answered by a round sent when \(sent.arrivedBefore) had arrived")
        }
    }

    @Test func aFailedRoundFailsItsHitsAndTheNextRoundIsAskedAgain() async throws {
        struct Down: Error {}
        let calls = Atomic<Int>(0)
        let rounds = ReadRounds<Int64, (generation: Int, counts: [Int64: Int])> { products in
            let call = calls.add(1, ordering: .sequentiallyConsistent).newValue
            try await Task.sleep(for: .milliseconds(5))
            if call == 1 { throw Down() }
            return (7, Dictionary(uniqueKeysWithValues: products.map { ($0, 1) }))
        }
        await #expect(throws: Down.self) { try await rounds.read([1]) }
        let answer = try await rounds.read([2])
        #expect(answer.generation == 7 && answer.counts == [2: 1])
    }

    @Test func oneRoundAsksAboutABoundedNumberOfProducts() async throws {
        let largest = Atomic<Int>(0)
        let rounds = ReadRounds<Int64, (generation: Int, counts: [Int64: Int])>(maxKeys: 50) { products in
            _ = largest.max(products.count, ordering: .sequentiallyConsistent)
            try await Task.sleep(for: .milliseconds(2))
            return (1, Dictionary(uniqueKeysWithValues: products.map { ($0, 0) }))
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for hit in 0..<100 {
                group.addTask {
                    let products = (0..<20).map { Int64(hit * 100 + $0) }
                    let answer = try await rounds.read(products)
                    #expect(Set(answer.counts.keys).isSuperset(of: products))
                }
            }
            try await group.waitForAll()
        }
        #expect(largest.load(ordering: .sequentiallyConsistent) <= 50)
    }

    /// A read cancelled while it asks for others (its client went away) does not fail them:
    /// one of them asks again.
    @Test func aCancelledLeaderHandsItsRoundOn() async throws {
        let calls = Atomic<Int>(0)
        let (started, signal) = AsyncStream<Int>.makeStream()
        let rounds = ReadRounds<Int64, [Int64: Int]> { keys in
            let call = calls.add(1, ordering: .sequentiallyConsistent).newValue
            signal.yield(call)
            // The first round takes a while, so that the others queue behind it; the second,
            // led by the first of them, waits until its read is cancelled.
            if call == 1 { try await Task.sleep(for: .milliseconds(300)) }
            if call == 2 { try await Task.sleep(for: .seconds(30)) }
            return Dictionary(uniqueKeysWithValues: keys.map { ($0, Int($0)) })
        }
        var calling = started.makeAsyncIterator()
        let first = Task { try await rounds.read([1]) }
        #expect(await calling.next() == 1)
        let second = Task { try await rounds.read([2]) }
        try await Task.sleep(for: .milliseconds(50))
        let rest = (3...6).map { key in Task { try await rounds.read([Int64(key)]) } }
        #expect(try await first.value == [1: 1])
        // The second read leads the next round, for itself and the rest; it is cancelled.
        #expect(await calling.next() == 2)
        second.cancel()
        await #expect(throws: CancellationError.self) { try await second.value }
        for (offset, read) in rest.enumerated() {
            let key = Int64(offset + 3)
            #expect(try await read.value[key] == Int(key))
        }
        #expect(calls.load(ordering: .sequentiallyConsistent) == 3)
    }
}
