import Foundation

/// The JSON of ``JSONResponse/makeEncoder()``, byte for byte, written straight into bytes:
/// compact, keys sorted by their UTF-8 bytes, slashes unescaped, dates as RFC 3339 in UTC,
/// `Data` in Base64, URLs as their absolute string, `Decimal`s as numbers.
///
/// Foundation's `JSONEncoder` builds a tree of boxed values, asks each value at run time
/// whether it is one of the types it treats specially, calls a closure with a new encoder
/// for every date, then writes the tree out: on a list of twenty users that was a third
/// of the server's CPU. This one keeps scalars as the bytes they will be, and only objects
/// and arrays as nodes, sorted when they are written. `ResponseJSONEncoderTests` holds it
/// to Foundation's output.
public enum ResponseJSONEncoder {
    public static func encode<Value: Encodable>(_ value: Value) throws -> [UInt8] {
        let root = JSONNode()
        try root.encode(value, codingPath: [])
        var output: [UInt8] = []
        output.reserveCapacity(1024)
        root.write(to: &output)
        return output
    }
}

/// One value being encoded: unset until something is written to it, then the bytes of a
/// scalar, or an object's or an array's entries. The scalars of an object or array are
/// written, as they come, into its own `bytes`; only objects and arrays are nodes.
final class JSONNode {
    enum Kind {
        case unset, scalar, object, array
    }

    enum Entry {
        case scalar(Range<Int>)
        case node(JSONNode)
    }

    var kind = Kind.unset
    /// A scalar's bytes, or those of an object's or array's scalars, one after another.
    var bytes: [UInt8] = []
    /// An object's keys, one for each entry.
    var keys: [String] = []
    var entries: [Entry] = []

    // MARK: Building

    func makeObject() {
        guard kind != .object else { return }
        kind = .object
        bytes = []
    }

    func makeArray() {
        guard kind != .array else { return }
        kind = .array
        bytes = []
    }

    func setScalar(_ write: (inout [UInt8]) throws -> Void) rethrows {
        kind = .scalar
        bytes.removeAll(keepingCapacity: true)
        keys = []
        entries = []
        try write(&bytes)
    }

    /// Adds a scalar under `key` (an object) or at the end (an array, `key` nil), written by `write`.
    func add(_ key: String?, scalar write: (inout [UInt8]) throws -> Void) rethrows {
        guard kind == .object || kind == .array else { return }
        let start = bytes.count
        try write(&bytes)
        if kind == .object { keys.append(key ?? "") }
        entries.append(.scalar(start..<bytes.count))
    }

    /// Adds `child` under `key` (an object) or at the end (an array).
    func add(_ key: String?, node child: JSONNode) {
        guard kind == .object || kind == .array else { return }
        if kind == .object { keys.append(key ?? "") }
        entries.append(.node(child))
    }

    var count: Int { entries.count }

    // MARK: Writing the tree out

    func write(to output: inout [UInt8]) {
        switch kind {
        case .unset:
            // A value that encoded nothing at all is an empty object, as in Foundation.
            output.append(UInt8(ascii: "{"))
            output.append(UInt8(ascii: "}"))
        case .scalar:
            output.append(contentsOf: bytes)
        case .array:
            output.append(UInt8(ascii: "["))
            for index in entries.indices {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                write(entries[index], to: &output)
            }
            output.append(UInt8(ascii: "]"))
        case .object:
            // Sorted by UTF-8 bytes; of a key given twice, the last value stands.
            let order = keys.indices.sorted { left, right in
                let comparison = Self.compare(keys[left], keys[right])
                return comparison == 0 ? left < right : comparison < 0
            }
            output.append(UInt8(ascii: "{"))
            var first = true
            for (position, index) in order.enumerated() {
                if position + 1 < order.count, keys[index] == keys[order[position + 1]] { continue }
                if !first { output.append(UInt8(ascii: ",")) }
                first = false
                Self.appendString(keys[index], to: &output)
                output.append(UInt8(ascii: ":"))
                write(entries[index], to: &output)
            }
            output.append(UInt8(ascii: "}"))
        }
    }

    private func write(_ entry: Entry, to output: inout [UInt8]) {
        switch entry {
        case .scalar(let range): output.append(contentsOf: bytes[range])
        case .node(let node): node.write(to: &output)
        }
    }

    /// UTF-8 byte order.
    private static func compare(_ left: String, _ right: String) -> Int {
        var left = left
        var right = right
        return left.withUTF8 { leftBytes in
            right.withUTF8 { rightBytes in
                let common = min(leftBytes.count, rightBytes.count)
                if common > 0 {
                    let order = memcmp(leftBytes.baseAddress!, rightBytes.baseAddress!, common)
                    if order != 0 { return Int(order) }
                }
                return leftBytes.count - rightBytes.count
            }
        }
    }

    // MARK: Scalars

    /// `string` as a JSON string, quotes included, escaped as Foundation escapes it: `"` and
    /// `\`, the short forms `\b \t \n \f \r`, other control characters as `\u00xx`;
    /// `/` and everything else as it is. Events' envelopes are written with it too.
    static func appendString(_ string: String, to output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        var string = string
        string.withUTF8 { bytes in
            var start = 0
            for index in 0..<bytes.count {
                let byte = bytes[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<index]))
                start = index + 1
                output.append(UInt8(ascii: "\\"))
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): output.append(byte)
                case 0x08: output.append(UInt8(ascii: "b"))
                case 0x09: output.append(UInt8(ascii: "t"))
                case 0x0A: output.append(UInt8(ascii: "n"))
                case 0x0C: output.append(UInt8(ascii: "f"))
                case 0x0D: output.append(UInt8(ascii: "r"))
                default:
                    output.append(UInt8(ascii: "u"))
                    output.append(UInt8(ascii: "0"))
                    output.append(UInt8(ascii: "0"))
                    output.append(hexDigits[Int(byte >> 4)])
                    output.append(hexDigits[Int(byte & 0x0F)])
                }
            }
            output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start...]))
        }
        output.append(UInt8(ascii: "\""))
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    static func appendLiteral(_ text: String, to output: inout [UInt8]) {
        output.append(contentsOf: text.utf8)
    }

    static func appendInteger(_ value: some BinaryInteger & CustomStringConvertible, to output: inout [UInt8]) {
        output.append(contentsOf: value.description.utf8)
    }

    /// Swift's shortest form, without a trailing `.0`, as Foundation writes it; NaN and the
    /// infinities are not JSON.
    static func appendFloatingPoint<Number: BinaryFloatingPoint & CustomStringConvertible>(
        _ value: Number,
        codingPath: @autoclosure () -> [any CodingKey],
        to output: inout [UInt8]
    ) throws {
        guard value.isFinite else {
            throw EncodingError.invalidValue(value, .init(codingPath: codingPath(), debugDescription: "\(value) is not a valid JSON number"))
        }
        let text = value.description
        output.append(contentsOf: text.hasSuffix(".0") ? text.utf8.dropLast(2) : text.utf8[...])
    }

    // MARK: Values

    /// Writes `value` with `write` when it is one of the types JSON writes specially (as
    /// Foundation does); false for any other type.
    static func writeSpecial<Value: Encodable>(_ value: Value, _ write: ((inout [UInt8]) -> Void) -> Void) -> Bool {
        if Value.self == EncodedJSON.self, let json = value as? EncodedJSON {
            write { $0.append(contentsOf: json.bytes) }
        } else if Value.self == Date.self, let date = value as? Date {
            write { appendString(RFC3339.string(from: date), to: &$0) }
        } else if Value.self == Data.self, let data = value as? Data {
            write { appendString(data.base64EncodedString(), to: &$0) }
        } else if Value.self == URL.self, let url = value as? URL {
            write { appendString(url.absoluteString, to: &$0) }
        } else if Value.self == Decimal.self, let decimal = value as? Decimal {
            write { appendLiteral(decimal.description, to: &$0) }
        } else {
            return false
        }
        return true
    }

    /// Encodes `value` into this node.
    func encode<Value: Encodable>(_ value: Value, codingPath: @autoclosure () -> [any CodingKey]) throws {
        if Self.writeSpecial(value, { setScalar($0) }) { return }
        try value.encode(to: NodeEncoder(node: self, codingPath: codingPath()))
    }

    /// Adds `value` under `key` (an object) or at the end (an array): a scalar into this
    /// node's bytes, anything else as a node of its own.
    func add<Value: Encodable>(_ key: String?, _ value: Value, codingPath: @autoclosure () -> [any CodingKey]) throws {
        if Self.writeSpecial(value, { add(key, scalar: $0) }) { return }
        let child = JSONNode()
        try value.encode(to: NodeEncoder(node: child, codingPath: codingPath()))
        if child.kind == .scalar {
            add(key) { $0.append(contentsOf: child.bytes) }
        } else {
            add(key, node: child)
        }
    }
}

/// The `Encoder` handed to each value: every container it gives writes into its node.
private struct NodeEncoder: Encoder {
    let node: JSONNode
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        node.makeObject()
        return KeyedEncodingContainer(ObjectContainer<Key>(node: node, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        node.makeArray()
        return ArrayContainer(node: node, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        ScalarContainer(node: node, codingPath: codingPath)
    }
}

private struct ObjectContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let node: JSONNode
    let codingPath: [any CodingKey]

    private func integer(_ value: some BinaryInteger & CustomStringConvertible, _ key: Key) {
        node.add(key.stringValue) { JSONNode.appendInteger(value, to: &$0) }
    }

    mutating func encodeNil(forKey key: Key) throws { node.add(key.stringValue) { JSONNode.appendLiteral("null", to: &$0) } }
    mutating func encode(_ value: Bool, forKey key: Key) throws {
        node.add(key.stringValue) { JSONNode.appendLiteral(value ? "true" : "false", to: &$0) }
    }
    mutating func encode(_ value: String, forKey key: Key) throws { node.add(key.stringValue) { JSONNode.appendString(value, to: &$0) } }
    mutating func encode(_ value: Double, forKey key: Key) throws {
        try node.add(key.stringValue) { try JSONNode.appendFloatingPoint(value, codingPath: codingPath + [key], to: &$0) }
    }
    mutating func encode(_ value: Float, forKey key: Key) throws {
        try node.add(key.stringValue) { try JSONNode.appendFloatingPoint(value, codingPath: codingPath + [key], to: &$0) }
    }
    mutating func encode(_ value: Int, forKey key: Key) throws { integer(value, key) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { integer(value, key) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { integer(value, key) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { integer(value, key) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { integer(value, key) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { integer(value, key) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { integer(value, key) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { integer(value, key) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { integer(value, key) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { integer(value, key) }

    mutating func encode<Value: Encodable>(_ value: Value, forKey key: Key) throws {
        try node.add(key.stringValue, value, codingPath: codingPath + [key])
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        let child = JSONNode()
        node.add(key.stringValue, node: child)
        return NodeEncoder(node: child, codingPath: codingPath + [key]).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let child = JSONNode()
        node.add(key.stringValue, node: child)
        return NodeEncoder(node: child, codingPath: codingPath + [key]).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder {
        let child = JSONNode()
        node.add("super", node: child)
        return NodeEncoder(node: child, codingPath: codingPath)
    }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        let child = JSONNode()
        node.add(key.stringValue, node: child)
        return NodeEncoder(node: child, codingPath: codingPath + [key])
    }
}

private struct ArrayContainer: UnkeyedEncodingContainer {
    let node: JSONNode
    let codingPath: [any CodingKey]

    var count: Int { node.count }

    private var nextKey: any CodingKey { IndexKey(index: count) }

    private func integer(_ value: some BinaryInteger & CustomStringConvertible) {
        node.add(nil) { JSONNode.appendInteger(value, to: &$0) }
    }

    mutating func encodeNil() throws { node.add(nil) { JSONNode.appendLiteral("null", to: &$0) } }
    mutating func encode(_ value: Bool) throws { node.add(nil) { JSONNode.appendLiteral(value ? "true" : "false", to: &$0) } }
    mutating func encode(_ value: String) throws { node.add(nil) { JSONNode.appendString(value, to: &$0) } }
    mutating func encode(_ value: Double) throws {
        let path = codingPath + [nextKey]
        try node.add(nil) { try JSONNode.appendFloatingPoint(value, codingPath: path, to: &$0) }
    }
    mutating func encode(_ value: Float) throws {
        let path = codingPath + [nextKey]
        try node.add(nil) { try JSONNode.appendFloatingPoint(value, codingPath: path, to: &$0) }
    }
    mutating func encode(_ value: Int) throws { integer(value) }
    mutating func encode(_ value: Int8) throws { integer(value) }
    mutating func encode(_ value: Int16) throws { integer(value) }
    mutating func encode(_ value: Int32) throws { integer(value) }
    mutating func encode(_ value: Int64) throws { integer(value) }
    mutating func encode(_ value: UInt) throws { integer(value) }
    mutating func encode(_ value: UInt8) throws { integer(value) }
    mutating func encode(_ value: UInt16) throws { integer(value) }
    mutating func encode(_ value: UInt32) throws { integer(value) }
    mutating func encode(_ value: UInt64) throws { integer(value) }

    mutating func encode<Value: Encodable>(_ value: Value) throws {
        try node.add(nil, value, codingPath: codingPath + [nextKey])
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let child = JSONNode()
        let key = nextKey
        node.add(nil, node: child)
        return NodeEncoder(node: child, codingPath: codingPath + [key]).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let child = JSONNode()
        let key = nextKey
        node.add(nil, node: child)
        return NodeEncoder(node: child, codingPath: codingPath + [key]).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder {
        let child = JSONNode()
        let key = nextKey
        node.add(nil, node: child)
        return NodeEncoder(node: child, codingPath: codingPath + [key])
    }
}

private struct ScalarContainer: SingleValueEncodingContainer {
    let node: JSONNode
    let codingPath: [any CodingKey]

    private func set(_ write: (inout [UInt8]) throws -> Void) rethrows {
        try node.setScalar(write)
    }

    mutating func encodeNil() throws { set { JSONNode.appendLiteral("null", to: &$0) } }
    mutating func encode(_ value: Bool) throws { set { JSONNode.appendLiteral(value ? "true" : "false", to: &$0) } }
    mutating func encode(_ value: String) throws { set { JSONNode.appendString(value, to: &$0) } }
    mutating func encode(_ value: Double) throws { try set { try JSONNode.appendFloatingPoint(value, codingPath: codingPath, to: &$0) } }
    mutating func encode(_ value: Float) throws { try set { try JSONNode.appendFloatingPoint(value, codingPath: codingPath, to: &$0) } }
    mutating func encode(_ value: Int) throws { set { JSONNode.appendInteger(value, to: &$0) } }
    mutating func encode(_ value: Int8) throws { set { JSONNode.appendInteger(value, to: &$0) } }
    mutating func encode(_ value: Int16) throws { set { JSONNode.appendInteger(value, to: &$0) } }
    mutating func encode(_ value: Int32) throws { set { JSONNode.appendInteger(value, to: &$0) } }
    mutating func encode(_ value: Int64) throws { set { JSONNode.appendInteger(value, to: &$0) } }
    mutating func encode(_ value: UInt) throws { set { JSONNode.appendInteger(value, to: &$0) } }
    mutating func encode(_ value: UInt8) throws { set { JSONNode.appendInteger(value, to: &$0) } }
    mutating func encode(_ value: UInt16) throws { set { JSONNode.appendInteger(value, to: &$0) } }
    mutating func encode(_ value: UInt32) throws { set { JSONNode.appendInteger(value, to: &$0) } }
    mutating func encode(_ value: UInt64) throws { set { JSONNode.appendInteger(value, to: &$0) } }

    mutating func encode<Value: Encodable>(_ value: Value) throws {
        try node.encode(value, codingPath: codingPath)
    }
}

/// The coding key of an array's item, for error paths.
private struct IndexKey: CodingKey {
    let index: Int
    var stringValue: String { "Index \(index)" }
    var intValue: Int? { index }
    init(index: Int) { self.index = index }
    init?(stringValue: String) { nil }
    init?(intValue: Int) { self.index = intValue }
}
