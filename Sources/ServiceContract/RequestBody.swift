/// A request body type whose fields are listed, so that unknown fields are rejected.
///
/// Declare `enum CodingKeys: String, CodingKey, CaseIterable` with the `snake_case` names.
public protocol JSONRequestBody: Decodable, Sendable {
    associatedtype CodingKeys: CodingKey & CaseIterable
}

/// How request bodies are read strictly.
public enum RequestBodyDecoding {
    /// Set in the decoder's `userInfo` while a request body is read: nested objects then
    /// refuse unknown members too (``Swift/Decoder/rejectUnknownKeys(_:)``), while the same
    /// types read leniently from responses, so a client survives a server that adds a field.
    public static let strictKey = CodingUserInfoKey(rawValue: "shop.strictRequestBody")!

    /// The message of an unknown member, as a decoding error carries it.
    public static let unknownField = "Unknown field"
}

extension Decoder {
    /// While a request body is read (``RequestBodyDecoding/strictKey``), refuses members of this
    /// object that `Keys` does not name: `Unknown field` on their path (`price.typo`).
    /// Nested request objects call it first in `init(from:)`.
    public func rejectUnknownKeys<Keys: CodingKey & CaseIterable>(_ keys: Keys.Type) throws {
        guard userInfo[RequestBodyDecoding.strictKey] as? Bool == true else { return }
        // A closure, not `\.stringValue`: a key path on a generic type is made anew at each call.
        let known = Set(Keys.allCases.map { $0.stringValue })
        let members = try container(keyedBy: MemberName.self).allKeys
        if let unknown = members.sorted(by: { $0.stringValue < $1.stringValue }).first(where: { !known.contains($0.stringValue) }) {
            throw DecodingError.dataCorrupted(.init(codingPath: codingPath + [unknown], debugDescription: RequestBodyDecoding.unknownField))
        }
    }
}

/// The name of any member of a JSON object.
struct MemberName: CodingKey {
    let stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// A field of a partial update (`PATCH`): left out, set to `null`, or set to a value.
public enum PatchField<Value: Sendable & Decodable>: Sendable {
    case absent
    case null
    case value(Value)

    /// The value, or `nil` when it was left out or null.
    public var value: Value? {
        if case .value(let value) = self { return value }
        return nil
    }
}

extension KeyedDecodingContainer {
    /// Decodes a ``PatchField``, keeping the difference between a missing key and `null`.
    public func decodePatch<Value>(_ type: Value.Type, forKey key: Key) throws -> PatchField<Value> {
        guard contains(key) else { return .absent }
        if try decodeNil(forKey: key) { return .null }
        return .value(try decode(Value.self, forKey: key))
    }
}
