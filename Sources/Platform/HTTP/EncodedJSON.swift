import Foundation
import Synchronization

/// JSON already written by ``ResponseJSONEncoder``, put into a response as it is: a
/// resource encoded once and sent many times. Only ``ResponseJSONEncoder`` can write it;
/// any other encoder is refused.
public struct EncodedJSON: Encodable, Sendable, Hashable {
    public let bytes: [UInt8]

    public init<Value: Encodable>(encoding value: Value) throws {
        bytes = try ResponseJSONEncoder.encode(value)
    }

    public func encode(to encoder: any Encoder) throws {
        throw EncodingError.invalidValue(
            self,
            .init(codingPath: encoder.codingPath, debugDescription: "Encoded JSON is written by ResponseJSONEncoder only")
        )
    }
}

/// The JSON of values read far more often than they change, kept by the value itself: a
/// changed value is another key, so nothing here is ever stale and nothing needs to be
/// told of a write. At most `limit` values are kept; past it, each new one takes the place
/// of an arbitrary one. Everything is dropped every `maximumAge` and on ``removeAll()``,
/// so that what was personal data (a deleted user's name) does not stay in memory for long.
public final class EncodedJSONCache<Key: Hashable & Sendable>: Sendable {
    private struct State {
        var kept: [Key: EncodedJSON] = [:]
        var since = ContinuousClock.now
    }

    private let limit: Int
    private let maximumAge: Duration
    private let state = Mutex(State())

    public init(limit: Int, maximumAge: Duration = .seconds(600)) {
        self.limit = limit
        self.maximumAge = maximumAge
    }

    /// The JSON of `key`, made by `encode` when it is not kept.
    public func encoded(_ key: Key, _ encode: (Key) throws -> EncodedJSON) rethrows -> EncodedJSON {
        let now = ContinuousClock.now
        let found = state.withLock { state -> EncodedJSON? in
            if now - state.since > maximumAge {
                state.kept.removeAll()
                state.since = now
            }
            return state.kept[key]
        }
        if let found { return found }
        let json = try encode(key)
        state.withLock { state in
            if state.kept[key] == nil, state.kept.count >= limit { state.kept.remove(at: state.kept.startIndex) }
            state.kept[key] = json
        }
        return json
    }

    /// Drops everything kept.
    public func removeAll() {
        state.withLock { state in
            state.kept.removeAll()
            state.since = ContinuousClock.now
        }
    }

    /// How many values are kept now.
    public var count: Int { state.withLock { $0.kept.count } }
}
