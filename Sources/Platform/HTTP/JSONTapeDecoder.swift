public import Foundation

/// Decodes JSON as Foundation's `JSONDecoder` with its default strategies does, from a
/// ``JSONTape``: the same values, and for the mistakes a client makes (a wrong type, a
/// null, a missing member, JSON that does not parse, a number that does not fit) the same
/// `DecodingError` cases with the same coding paths, which `JSONBody` turns into the
/// errors `API.md` documents. `JSONTapeDecoderTests` holds it to Foundation's answers.
///
/// Foundation's decoder makes a dictionary of every object it opens and checks each value
/// at run time for the types it treats specially; reading request bodies, events and
/// stored data with it was 7% of a checkout's CPU.
///
/// Unlike Foundation, every member is checked when the bytes are read, not only those
/// decoded: an ignored member that is not valid JSON (`01`, a lone surrogate) is refused.
public enum JSONTapeDecoder {
    public static func decode<Value: Decodable>(
        _ type: Value.Type,
        from data: Data,
        userInfo: [CodingUserInfoKey: any Sendable] = [:]
    ) throws -> Value {
        let document = TapeDocument(tape: try JSONTape(parsing: [UInt8](data)), userInfo: userInfo)
        return try TapeDecoder(document: document, node: 0, path: nil).decodeValue(Value.self)
    }
}

/// The parsed document and what every decoder of it shares.
private final class TapeDocument {
    let tape: JSONTape
    let userInfo: [CodingUserInfoKey: Any]
    /// Of each large object looked into, the value of each member name's first occurrence:
    /// so that a client's object of many members is not searched from the start for each.
    var memberIndexes: [Int: [String: Int]] = [:]

    /// Objects up to this many members are searched member by member.
    static let searchedMembers = 16

    init(tape: JSONTape, userInfo: [CodingUserInfoKey: any Sendable]) {
        self.tape = tape
        self.userInfo = userInfo
    }

    func kind(_ node: Int) -> JSONTape.Kind {
        node < 0 ? .null : tape.nodes[node].kind
    }

    /// The value of the first member of `object` named `name`.
    func value(in object: Int, named name: String) -> Int? {
        let count = tape.nodes[object].count
        if count > Self.searchedMembers {
            if let index = memberIndexes[object] { return index[name] }
            var index: [String: Int] = [:]
            forEachMember(of: object) { nameNode in
                let member = tape.string(at: nameNode)
                if index[member] == nil { index[member] = nameNode + 1 }
            }
            memberIndexes[object] = index
            return index[name]
        }
        var nameNode = object + 1
        for _ in 0..<count {
            if tape.string(at: nameNode, is: name) { return nameNode + 1 }
            nameNode = tape.next(after: nameNode + 1)
        }
        return nil
    }

    func forEachMember(of object: Int, _ body: (Int) -> Void) {
        tape.forEachMember(of: object, body)
    }

    // MARK: Scalars

    func bool(_ node: Int, path: @autoclosure () -> [any CodingKey]) throws -> Bool {
        switch kind(node) {
        case .true: return true
        case .false: return false
        default: throw mismatch(Bool.self, node, path())
        }
    }

    func string(_ node: Int, path: @autoclosure () -> [any CodingKey]) throws -> String {
        switch kind(node) {
        case .string, .escapedString: return tape.string(at: node)
        default: throw mismatch(String.self, node, path())
        }
    }

    func integer<Number: FixedWidthInteger>(_ node: Int, _ type: Number.Type, path: @autoclosure () -> [any CodingKey]) throws -> Number {
        switch kind(node) {
        case .integer:
            if let number = Number(tape.numberText(at: node)) { return number }
        case .number:
            let text = tape.numberText(at: node)
            // As Foundation: the value as a Double must be a whole number in range, and a
            // fraction of zeros is then read exactly from the digits before it.
            if let double = Double(text), double.isFinite, let number = Number(exactly: double) {
                if !text.contains(where: { $0 == "e" || $0 == "E" }), let point = text.firstIndex(of: "."),
                    text[text.index(after: point)...].allSatisfy({ $0 == "0" })
                {
                    if let exact = Number(text[..<point]) { return exact }
                } else {
                    return number
                }
            }
        default:
            throw mismatch(Number.self, node, path())
        }
        throw JSONTape.invalid("the number \(tape.numberText(at: node)) does not fit in \(Number.self)")
    }

    func floatingPoint<Number: BinaryFloatingPoint & LosslessStringConvertible>(
        _ node: Int,
        _ type: Number.Type,
        path: @autoclosure () -> [any CodingKey]
    ) throws -> Number {
        switch kind(node) {
        case .integer, .number:
            let text = tape.numberText(at: node)
            // Too large, or too small to be told from zero (any digit but 0, the exponent's
            // included, as Foundation counts them): refused, as Foundation does.
            guard let number = Number(String(text)), number.isFinite,
                number != 0 || !text.contains(where: { ("1"..."9").contains($0) })
            else { throw JSONTape.invalid("the number \(text) does not fit in \(Number.self)") }
            return number
        default:
            throw mismatch(Number.self, node, path())
        }
    }

    /// The error for a value that is not of `type`: `valueNotFound` for a null, as in Foundation.
    func mismatch(_ type: Any.Type, _ node: Int, _ path: [any CodingKey]) -> DecodingError {
        let found: String
        switch kind(node) {
        case .null:
            return .valueNotFound(type, .init(codingPath: path, debugDescription: "Cannot get value of type \(type) -- found null value instead"))
        case .object: found = "a dictionary"
        case .array: found = "an array"
        case .string, .escapedString: found = "a string"
        case .integer, .number: found = "number"
        case .true, .false: found = "bool"
        }
        return .typeMismatch(type, .init(codingPath: path, debugDescription: "Expected to decode \(type) but found \(found) instead."))
    }
}

/// The coding path to a value, kept as links to its parent: made into an array only for
/// an error.
private final class TapePath {
    let parent: TapePath?
    let key: any CodingKey

    init(_ parent: TapePath?, _ key: any CodingKey) {
        self.parent = parent
        self.key = key
    }

    static func keys(_ path: TapePath?) -> [any CodingKey] {
        var keys: [any CodingKey] = []
        var link = path
        while let current = link {
            keys.append(current.key)
            link = current.parent
        }
        return keys.reversed()
    }
}

/// The key of a superclass's values, as Foundation names it.
private struct SuperKey: CodingKey {
    var stringValue: String { "super" }
    var intValue: Int? { nil }
    init() {}
    init?(stringValue: String) { nil }
    init?(intValue: Int) { nil }
}

/// An array element's key, as Foundation names it.
private struct ElementKey: CodingKey {
    let intValue: Int?
    var stringValue: String { "Index \(intValue ?? 0)" }
    init(_ index: Int) { intValue = index }
    init?(stringValue: String) { nil }
    init?(intValue: Int) { self.intValue = intValue }
}

private struct TapeDecoder: Decoder {
    let document: TapeDocument
    /// The value's node; -1 for a member that is absent, read as null.
    let node: Int
    let path: TapePath?

    var codingPath: [any CodingKey] { TapePath.keys(path) }
    var userInfo: [CodingUserInfoKey: Any] { document.userInfo }

    func decodeValue<Value: Decodable>(_ type: Value.Type) throws -> Value {
        // The types Foundation's default strategies read specially.
        if Value.self == Data.self {
            let text = try document.string(node, path: codingPath)
            guard let data = Data(base64Encoded: text) else {
                throw DecodingError.dataCorrupted(.init(codingPath: codingPath, debugDescription: "Encountered Data is not valid Base64."))
            }
            return data as! Value
        }
        if Value.self == URL.self {
            guard let url = URL(string: try document.string(node, path: codingPath)) else {
                throw DecodingError.dataCorrupted(.init(codingPath: codingPath, debugDescription: "Invalid URL string."))
            }
            return url as! Value
        }
        if Value.self == Decimal.self {
            guard document.kind(node) == .integer || document.kind(node) == .number,
                let decimal = Decimal(string: String(document.tape.numberText(at: node)))
            else { throw document.mismatch(Decimal.self, node, codingPath) }
            return decimal as! Value
        }
        return try Value(from: self)
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        switch document.kind(node) {
        case .object:
            return KeyedDecodingContainer(TapeKeyedContainer<Key>(document: document, node: node, path: path))
        case .null:
            throw DecodingError.valueNotFound(
                [String: Any].self,
                .init(codingPath: codingPath, debugDescription: "Cannot get keyed decoding container -- found null value instead")
            )
        default:
            throw document.mismatch([String: Any].self, node, codingPath)
        }
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        switch document.kind(node) {
        case .array:
            return TapeUnkeyedContainer(document: document, node: node, path: path)
        case .null:
            throw DecodingError.valueNotFound(
                [Any].self,
                .init(codingPath: codingPath, debugDescription: "Cannot get unkeyed decoding container -- found null value instead")
            )
        default:
            throw document.mismatch([Any].self, node, codingPath)
        }
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        TapeSingleValueContainer(decoder: self)
    }
}

private struct TapeKeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let document: TapeDocument
    let node: Int
    let path: TapePath?

    var codingPath: [any CodingKey] { TapePath.keys(path) }

    var allKeys: [Key] {
        var seen = Set<String>()
        var keys: [Key] = []
        document.forEachMember(of: node) { nameNode in
            let name = document.tape.string(at: nameNode)
            if seen.insert(name).inserted, let key = Key(stringValue: name) { keys.append(key) }
        }
        return keys
    }

    func contains(_ key: Key) -> Bool {
        document.value(in: node, named: key.stringValue) != nil
    }

    private func value(_ key: Key) throws -> Int {
        guard let value = document.value(in: node, named: key.stringValue) else {
            throw DecodingError.keyNotFound(
                key,
                .init(codingPath: codingPath, debugDescription: "No value associated with key \(key) (\"\(key.stringValue)\").")
            )
        }
        return value
    }

    private func path(_ key: Key) -> [any CodingKey] { codingPath + [key] }

    func decodeNil(forKey key: Key) throws -> Bool { document.kind(try value(key)) == .null }
    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try document.bool(try value(key), path: path(key)) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try document.string(try value(key), path: path(key)) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double {
        try document.floatingPoint(try value(key), type, path: path(key))
    }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try document.floatingPoint(try value(key), type, path: path(key)) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try document.integer(try value(key), type, path: path(key)) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try document.integer(try value(key), type, path: path(key)) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try document.integer(try value(key), type, path: path(key)) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try document.integer(try value(key), type, path: path(key)) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try document.integer(try value(key), type, path: path(key)) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try document.integer(try value(key), type, path: path(key)) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try document.integer(try value(key), type, path: path(key)) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try document.integer(try value(key), type, path: path(key)) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try document.integer(try value(key), type, path: path(key)) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try document.integer(try value(key), type, path: path(key)) }

    func decode<Value: Decodable>(_ type: Value.Type, forKey key: Key) throws -> Value {
        try TapeDecoder(document: document, node: try value(key), path: TapePath(path, key)).decodeValue(type)
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try TapeDecoder(document: document, node: try value(key), path: TapePath(path, key)).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try TapeDecoder(document: document, node: try value(key), path: TapePath(path, key)).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder {
        TapeDecoder(document: document, node: document.value(in: node, named: "super") ?? -1, path: TapePath(path, SuperKey()))
    }

    func superDecoder(forKey key: Key) throws -> any Decoder {
        TapeDecoder(document: document, node: document.value(in: node, named: key.stringValue) ?? -1, path: TapePath(path, key))
    }
}

private struct TapeUnkeyedContainer: UnkeyedDecodingContainer {
    let document: TapeDocument
    let path: TapePath?
    let count: Int?
    private(set) var currentIndex = 0
    /// The node of the element at `currentIndex`.
    private var cursor: Int

    init(document: TapeDocument, node: Int, path: TapePath?) {
        self.document = document
        self.path = path
        count = document.tape.nodes[node].count
        cursor = node + 1
    }

    var codingPath: [any CodingKey] { TapePath.keys(path) }
    var isAtEnd: Bool { currentIndex >= count ?? 0 }

    /// The current element's node, checked to exist.
    private func element(_ type: Any.Type) throws -> Int {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(
                type,
                .init(codingPath: codingPath + [ElementKey(currentIndex)], debugDescription: "Unkeyed container is at end.")
            )
        }
        return cursor
    }

    private var elementPath: [any CodingKey] { codingPath + [ElementKey(currentIndex)] }

    /// Moves on past an element that was read.
    @discardableResult
    private mutating func advance<Value>(_ value: Value) -> Value {
        cursor = document.tape.next(after: cursor)
        currentIndex += 1
        return value
    }

    mutating func decodeNil() throws -> Bool {
        guard document.kind(try element(Any?.self)) == .null else { return false }
        advance(())
        return true
    }

    mutating func decode(_ type: Bool.Type) throws -> Bool { advance(try document.bool(try element(type), path: elementPath)) }
    mutating func decode(_ type: String.Type) throws -> String { advance(try document.string(try element(type), path: elementPath)) }
    mutating func decode(_ type: Double.Type) throws -> Double {
        advance(try document.floatingPoint(try element(type), type, path: elementPath))
    }
    mutating func decode(_ type: Float.Type) throws -> Float { advance(try document.floatingPoint(try element(type), type, path: elementPath)) }
    mutating func decode(_ type: Int.Type) throws -> Int { advance(try document.integer(try element(type), type, path: elementPath)) }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { advance(try document.integer(try element(type), type, path: elementPath)) }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { advance(try document.integer(try element(type), type, path: elementPath)) }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { advance(try document.integer(try element(type), type, path: elementPath)) }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { advance(try document.integer(try element(type), type, path: elementPath)) }
    mutating func decode(_ type: UInt.Type) throws -> UInt { advance(try document.integer(try element(type), type, path: elementPath)) }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { advance(try document.integer(try element(type), type, path: elementPath)) }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { advance(try document.integer(try element(type), type, path: elementPath)) }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { advance(try document.integer(try element(type), type, path: elementPath)) }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { advance(try document.integer(try element(type), type, path: elementPath)) }

    mutating func decode<Value: Decodable>(_ type: Value.Type) throws -> Value {
        let decoder = TapeDecoder(document: document, node: try element(type), path: TapePath(path, ElementKey(currentIndex)))
        return advance(try decoder.decodeValue(type))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        let decoder = TapeDecoder(document: document, node: try element(type), path: TapePath(path, ElementKey(currentIndex)))
        return advance(try decoder.container(keyedBy: type))
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let decoder = TapeDecoder(document: document, node: try element([Any].self), path: TapePath(path, ElementKey(currentIndex)))
        return advance(try decoder.unkeyedContainer())
    }

    mutating func superDecoder() throws -> any Decoder {
        advance(TapeDecoder(document: document, node: try element(Any.self), path: TapePath(path, ElementKey(currentIndex))))
    }
}

private struct TapeSingleValueContainer: SingleValueDecodingContainer {
    let decoder: TapeDecoder

    var codingPath: [any CodingKey] { decoder.codingPath }
    private var document: TapeDocument { decoder.document }
    private var node: Int { decoder.node }

    func decodeNil() -> Bool { document.kind(node) == .null }
    func decode(_ type: Bool.Type) throws -> Bool { try document.bool(node, path: codingPath) }
    func decode(_ type: String.Type) throws -> String { try document.string(node, path: codingPath) }
    func decode(_ type: Double.Type) throws -> Double { try document.floatingPoint(node, type, path: codingPath) }
    func decode(_ type: Float.Type) throws -> Float { try document.floatingPoint(node, type, path: codingPath) }
    func decode(_ type: Int.Type) throws -> Int { try document.integer(node, type, path: codingPath) }
    func decode(_ type: Int8.Type) throws -> Int8 { try document.integer(node, type, path: codingPath) }
    func decode(_ type: Int16.Type) throws -> Int16 { try document.integer(node, type, path: codingPath) }
    func decode(_ type: Int32.Type) throws -> Int32 { try document.integer(node, type, path: codingPath) }
    func decode(_ type: Int64.Type) throws -> Int64 { try document.integer(node, type, path: codingPath) }
    func decode(_ type: UInt.Type) throws -> UInt { try document.integer(node, type, path: codingPath) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try document.integer(node, type, path: codingPath) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try document.integer(node, type, path: codingPath) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try document.integer(node, type, path: codingPath) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try document.integer(node, type, path: codingPath) }
    func decode<Value: Decodable>(_ type: Value.Type) throws -> Value { try decoder.decodeValue(type) }
}
