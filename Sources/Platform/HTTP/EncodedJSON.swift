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
/// of an arbitrary one.
public final class EncodedJSONCache<Key: Hashable & Sendable>: Sendable {
    private let limit: Int
    private let kept = Mutex<[Key: EncodedJSON]>([:])

    public init(limit: Int) {
        self.limit = limit
    }

    /// The JSON of `key`, made by `encode` when it is not kept.
    public func encoded(_ key: Key, _ encode: (Key) throws -> EncodedJSON) rethrows -> EncodedJSON {
        if let json = kept.withLock({ $0[key] }) { return json }
        let json = try encode(key)
        kept.withLock { kept in
            if kept[key] == nil, kept.count >= limit { kept.remove(at: kept.startIndex) }
            kept[key] = json
        }
        return json
    }

    /// How many values are kept now.
    public var count: Int { kept.withLock { $0.count } }
}
