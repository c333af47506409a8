import Synchronization

/// Reads of a shared store asked together: while one round trip is under way, the reads
/// that arrive wait and go in the next one, all their keys in one call. A read alone is
/// asked at once; under load one round trip answers many. Every round is sent after each
/// of its reads arrived, so each sees every change made before it was asked, exactly as
/// if it had asked alone: this saves round trips, never freshness.
///
/// Each read gets its round's whole answer and takes its own keys from it.
public final class ReadRounds<Key: Hashable & Sendable, Answer: Sendable>: Sendable {
    /// Asks the store about these keys (no duplicates), in one round trip.
    let ask: @Sendable ([Key]) async throws -> Answer
    /// The most keys one round asks about; reads past it wait for the round after.
    let maxKeys: Int
    private let state = Mutex(State())

    private struct Waiting: Sendable {
        let keys: [Key]
        let turn: CheckedContinuation<Turn, Never>
    }

    private struct State: Sendable {
        /// A round is under way; reads that arrive now wait for the next.
        var asking = false
        var next: [Waiting] = []
    }

    private enum Turn: Sendable {
        case answered(Result<Answer, any Error>)
        /// This read sends the next round, for itself and these.
        case lead([Waiting])
    }

    public init(maxKeys: Int = 2_000, ask: @escaping @Sendable ([Key]) async throws -> Answer) {
        self.maxKeys = max(1, maxKeys)
        self.ask = ask
    }

    public func read(_ keys: [Key]) async throws -> Answer {
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
                    state.next.append(Waiting(keys: keys, turn: turn))
                    return false
                }
                if leads { turn.resume(returning: .lead([])) }
            }
            switch turn {
            case .answered(let result): return try result.get()
            case .lead(let waiting): others = waiting
            }
        }
        var asked = Set(keys)
        for waiting in others { asked.formUnion(waiting.keys) }
        let result: Result<Answer, any Error>
        do {
            result = .success(try await ask(Array(asked)))
        } catch {
            // This read was cancelled (its client went away): the others did not ask for
            // that, so the first of them asks again for the rest.
            if Task.isCancelled, let first = others.first {
                first.turn.resume(returning: .lead(Array(others.dropFirst())))
                throw error
            }
            result = .failure(error)
        }
        for waiting in others { waiting.turn.resume(returning: .answered(result)) }
        handOver()
        return try result.get()
    }

    /// Starts the next round with the reads that waited for it (as many as one round takes),
    /// or ends the rounds.
    private func handOver() {
        let round: [Waiting] = state.withLock { state in
            guard !state.next.isEmpty else {
                state.asking = false
                return []
            }
            var keys = 0
            var count = 0
            for waiting in state.next {
                if count > 0, keys + waiting.keys.count > maxKeys { break }
                keys += waiting.keys.count
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
