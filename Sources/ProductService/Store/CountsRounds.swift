import Synchronization

/// Near-cache hits' questions to Redis, asked together: while one round trip for live
/// counts is under way, the hits that arrive wait and go in the next one, all their
/// products in one call. A hit alone is asked at once, as before; under load one round
/// trip answers many. Every round is sent after each of its hits arrived, so each sees
/// every change made before it was asked: a stock change is still on the very next read.
final class CountsRounds: Sendable {
    typealias Answer = (generation: Int, counts: [Int64: Int])

    /// Asks for the generation and the counts of these products, in one round trip.
    let ask: @Sendable ([Int64]) async throws -> Answer
    /// The most products one round asks about; hits past it wait for the round after.
    let maxProducts: Int
    private let state = Mutex(State())

    private struct Waiting {
        let productIDs: [Int64]
        let turn: CheckedContinuation<Turn, Never>
    }

    private struct State {
        /// A round is under way; hits that arrive now wait for the next.
        var asking = false
        var next: [Waiting] = []
    }

    private enum Turn {
        case answered(Result<Answer, any Error>)
        /// This hit sends the next round, for itself and these.
        case lead([Waiting])
    }

    /// Rounds kept by what they ask about.
    final class ByPrefix: Sendable {
        let rounds = Mutex<[String: CountsRounds]>([:])
    }

    init(maxProducts: Int = 2_000, ask: @escaping @Sendable ([Int64]) async throws -> Answer) {
        self.maxProducts = maxProducts
        self.ask = ask
    }

    func counts(of productIDs: [Int64]) async throws -> Answer {
        let alone = state.withLock { state in
            if state.asking { return false }
            state.asking = true
            return true
        }
        var others: [Waiting] = []
        if !alone {
            let turn = await withCheckedContinuation { (turn: CheckedContinuation<Turn, Never>) in
                let leads = state.withLock { state in
                    if !state.asking {
                        state.asking = true
                        return true
                    }
                    state.next.append(Waiting(productIDs: productIDs, turn: turn))
                    return false
                }
                if leads { turn.resume(returning: .lead([])) }
            }
            switch turn {
            case .answered(let result): return try result.get()
            case .lead(let waiting): others = waiting
            }
        }
        var asked = Set(productIDs)
        for waiting in others { asked.formUnion(waiting.productIDs) }
        let result: Result<Answer, any Error>
        do {
            result = .success(try await ask(Array(asked)))
        } catch {
            result = .failure(error)
        }
        for waiting in others { waiting.turn.resume(returning: .answered(result)) }
        handOver()
        return try result.get()
    }

    /// Starts the next round with the hits that waited for it (as many as one round takes),
    /// or ends the rounds.
    private func handOver() {
        let round: [Waiting] = state.withLock { state in
            guard !state.next.isEmpty else {
                state.asking = false
                return []
            }
            var products = 0
            var count = 0
            for waiting in state.next {
                if count > 0, products + waiting.productIDs.count > maxProducts { break }
                products += waiting.productIDs.count
                count += 1
            }
            let round = Array(state.next.prefix(count))
            state.next.removeFirst(count)
            return round
        }
        guard let first = round.first else { return }
        first.turn.resume(returning: .lead(Array(round.dropFirst())))
    }
}
