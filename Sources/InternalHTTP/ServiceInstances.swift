import Synchronization

/// The instances of one service that a client calls, in turn. One that did not answer
/// (or failed on its side) is passed over for a moment, and tried again after it, or at
/// once when no other is left.
///
/// Every internal call can be sent twice (reads, or writes keyed by an id or an
/// `Idempotency-Key`), so a call that finds one instance gone goes on to the next.
public final class ServiceInstances: Sendable {
    /// The base URLs, without a trailing slash.
    public let urls: [String]
    private let state: Mutex<State>
    static let rest = Duration.seconds(2)

    private struct State {
        var next = 0
        var restingUntil: [ContinuousClock.Instant?]
    }

    /// `list`: one base URL, or several separated by commas.
    public init(_ list: String) {
        let urls = list.split(separator: ",").map { part -> String in
            let url = part.trimmingCharacters(in: .whitespaces)
            return url.hasSuffix("/") ? String(url.dropLast()) : url
        }.filter { !$0.isEmpty }
        self.urls = urls.isEmpty ? [list] : urls
        state = Mutex(State(restingUntil: Array(repeating: nil, count: self.urls.count)))
    }

    /// This call's order: from the next in turn, the resting ones last.
    func order(now: ContinuousClock.Instant = .now) -> [Int] {
        state.withLock { state in
            let start = state.next
            state.next = (state.next + 1) % urls.count
            let turn = (0..<urls.count).map { (start + $0) % urls.count }
            let resting = state.restingUntil.map { $0.map { $0 > now } ?? false }
            return turn.filter { !resting[$0] } + turn.filter { resting[$0] }
        }
    }

    func failed(_ index: Int, now: ContinuousClock.Instant = .now) {
        state.withLock { $0.restingUntil[index] = now + Self.rest }
    }

    func answered(_ index: Int) {
        state.withLock { $0.restingUntil[index] = nil }
    }

    /// Runs `call` against each instance in this call's order until one answers; throws
    /// the last failure when none does. `isDown` tells a failure that is the instance's
    /// (go on to the next) from any other (thrown at once).
    public func first<Answer: Sendable>(
        isDown: (any Error) -> Bool,
        _ call: (String) async throws -> Answer
    ) async throws -> Answer {
        var last: (any Error)?
        for index in order() {
            do {
                let answer = try await call(urls[index])
                answered(index)
                return answer
            } catch {
                guard isDown(error) else { throw error }
                failed(index)
                last = error
                if Task.isCancelled { break }
            }
        }
        throw last ?? CancellationError()
    }
}
