import Foundation

/// A JSON document checked and laid out as one flat array of nodes, in document order,
/// for ``JSONTapeDecoder``: nothing is copied out of the bytes until a value is asked for,
/// and an object's member is found by comparing its name's bytes, without a dictionary.
///
/// It reads RFC 8259 JSON as Foundation's `JSONDecoder` does: a leading byte order mark,
/// and (unless told otherwise) one trailing comma before `}` or `]`, are allowed; strings
/// must be valid UTF-8 without raw control characters, with well-formed escapes and
/// surrogate pairs; nesting stops at 512 levels. Anything else throws `DecodingError.dataCorrupted` with an empty
/// coding path, as Foundation's does for JSON it cannot read.
struct JSONTape {
    enum Kind: UInt8 {
        case object, array, string, escapedString, integer, number, `true`, `false`, null
    }

    struct Node {
        var kind: Kind
        /// A scalar's first byte (a string's, after its opening quote); a container's
        /// opening bracket.
        var start: Int
        /// One past a scalar's last byte (a string's closing quote); one past a container's
        /// closing bracket.
        var end: Int
        /// A container's number of members or elements.
        var count = 0
        /// A container's: the index of the node after its last descendant.
        var next = 0
    }

    /// The deepest nesting read, as in Foundation.
    static let maximumDepth = 512

    let bytes: [UInt8]
    private(set) var nodes: [Node] = []

    /// `trailingCommas`: one comma before `}` or `]` is allowed, as Foundation allows it;
    /// strict RFC 8259 without.
    init(parsing bytes: [UInt8], trailingCommas: Bool = true) throws {
        self.bytes = bytes
        var parser = Parser(count: bytes.count, trailingCommas: trailingCommas)
        try bytes.withUnsafeBufferPointer { buffer in
            try parser.document(buffer)
        }
        nodes = parser.nodes
    }

    /// The index of the node after `index` and all its descendants.
    func next(after index: Int) -> Int {
        switch nodes[index].kind {
        case .object, .array: nodes[index].next
        default: index + 1
        }
    }

    /// Calls `body` with the name node of each member of the object at `object`, in
    /// document order (the value is the node after it).
    func forEachMember(of object: Int, _ body: (Int) -> Void) {
        var name = object + 1
        for _ in 0..<nodes[object].count {
            body(name)
            name = next(after: name + 1)
        }
    }

    /// The text of a string node, escapes resolved.
    func string(at index: Int) -> String {
        let node = nodes[index]
        return bytes.withUnsafeBufferPointer { buffer in
            let raw = UnsafeBufferPointer(rebasing: buffer[node.start..<node.end])
            guard node.kind == .escapedString else { return String(decoding: raw, as: UTF8.self) }
            return String(decoding: Self.unescaped(raw), as: UTF8.self)
        }
    }

    /// Whether the string node at `index` is `name`.
    func string(at index: Int, is name: String) -> Bool {
        let node = nodes[index]
        guard node.kind == .string else { return string(at: index) == name }
        var name = name
        return name.withUTF8 { wanted in
            wanted.count == node.end - node.start
                && bytes.withUnsafeBufferPointer { buffer in
                    wanted.isEmpty || memcmp(buffer.baseAddress! + node.start, wanted.baseAddress!, wanted.count) == 0
                }
        }
    }

    /// The text of a number node, as written.
    func numberText(at index: Int) -> Substring {
        let node = nodes[index]
        return Substring(decoding: bytes[node.start..<node.end], as: UTF8.self)
    }

    /// The bytes of a string already checked by the parser, escapes resolved.
    private static func unescaped(_ raw: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(raw.count)
        var index = 0
        while index < raw.count {
            let byte = raw[index]
            guard byte == UInt8(ascii: "\\") else {
                output.append(byte)
                index += 1
                continue
            }
            let escape = raw[index + 1]
            index += 2
            switch escape {
            case UInt8(ascii: "b"): output.append(0x08)
            case UInt8(ascii: "f"): output.append(0x0C)
            case UInt8(ascii: "n"): output.append(0x0A)
            case UInt8(ascii: "r"): output.append(0x0D)
            case UInt8(ascii: "t"): output.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = hexQuad(raw, at: index)
                index += 4
                if (0xD800...0xDBFF).contains(scalar) {
                    let low = hexQuad(raw, at: index + 2)
                    index += 6
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                }
                output.append(contentsOf: Array(String(Unicode.Scalar(scalar)!).utf8))
            default: output.append(escape)
            }
        }
        return output
    }

    private static func hexQuad(_ raw: UnsafeBufferPointer<UInt8>, at index: Int) -> UInt32 {
        var value: UInt32 = 0
        for offset in 0..<4 { value = value << 4 | UInt32(hexValue(raw[index + offset]) ?? 0) }
        return value
    }

    fileprivate static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    static func invalid(_ detail: String) -> DecodingError {
        .dataCorrupted(.init(codingPath: [], debugDescription: "The given data was not valid JSON: \(detail)"))
    }
}

/// Reads the bytes once, checking them, and writes the nodes.
private struct Parser {
    var nodes: [JSONTape.Node] = []
    var index = 0
    let trailingCommas: Bool

    init(count: Int, trailingCommas: Bool) {
        self.trailingCommas = trailingCommas
        nodes.reserveCapacity(count / 8 + 4)
    }

    mutating func document(_ bytes: UnsafeBufferPointer<UInt8>) throws {
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { index = 3 }
        skipWhitespace(bytes)
        try value(bytes, depth: 0)
        skipWhitespace(bytes)
        guard index == bytes.count else { throw JSONTape.invalid("unexpected text after the value at byte \(index)") }
    }

    private mutating func skipWhitespace(_ bytes: UnsafeBufferPointer<UInt8>) {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    private mutating func value(_ bytes: UnsafeBufferPointer<UInt8>, depth: Int) throws {
        guard index < bytes.count else { throw JSONTape.invalid("unexpected end of data") }
        switch bytes[index] {
        case UInt8(ascii: "{"): try container(bytes, depth: depth + 1, object: true)
        case UInt8(ascii: "["): try container(bytes, depth: depth + 1, object: false)
        case UInt8(ascii: "\""): try string(bytes)
        case UInt8(ascii: "t"): try literal(bytes, "true", .true)
        case UInt8(ascii: "f"): try literal(bytes, "false", .false)
        case UInt8(ascii: "n"): try literal(bytes, "null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try number(bytes)
        default: throw JSONTape.invalid("unexpected character at byte \(index)")
        }
    }

    /// An object's members (each a name node, then its value) or an array's elements.
    private mutating func container(_ bytes: UnsafeBufferPointer<UInt8>, depth: Int, object: Bool) throws {
        guard depth <= JSONTape.maximumDepth else { throw JSONTape.invalid("too many nested arrays or objects") }
        let closing = object ? UInt8(ascii: "}") : UInt8(ascii: "]")
        let position = nodes.count
        nodes.append(JSONTape.Node(kind: object ? .object : .array, start: index, end: index))
        index += 1
        var count = 0
        skipWhitespace(bytes)
        if index < bytes.count, bytes[index] == closing {
            index += 1
        } else {
            while true {
                if object {
                    guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                        throw JSONTape.invalid("a member name is expected at byte \(index)")
                    }
                    try string(bytes)
                    skipWhitespace(bytes)
                    guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else {
                        throw JSONTape.invalid("':' is expected at byte \(index)")
                    }
                    index += 1
                    skipWhitespace(bytes)
                }
                try value(bytes, depth: depth)
                count += 1
                skipWhitespace(bytes)
                guard index < bytes.count else { throw JSONTape.invalid("unexpected end of data") }
                if bytes[index] == closing {
                    index += 1
                    break
                }
                guard bytes[index] == UInt8(ascii: ",") else { throw JSONTape.invalid("',' is expected at byte \(index)") }
                index += 1
                skipWhitespace(bytes)
                // One trailing comma, as Foundation allows.
                if trailingCommas, index < bytes.count, bytes[index] == closing {
                    index += 1
                    break
                }
            }
        }
        nodes[position].end = index
        nodes[position].count = count
        nodes[position].next = nodes.count
    }

    private mutating func literal(_ bytes: UnsafeBufferPointer<UInt8>, _ text: StaticString, _ kind: JSONTape.Kind) throws {
        let length = text.utf8CodeUnitCount
        guard index + length <= bytes.count, memcmp(bytes.baseAddress! + index, text.utf8Start, length) == 0 else {
            throw JSONTape.invalid("unexpected character at byte \(index)")
        }
        nodes.append(JSONTape.Node(kind: kind, start: index, end: index + length))
        index += length
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    private mutating func number(_ bytes: UnsafeBufferPointer<UInt8>) throws {
        let start = index
        var integer = true
        func digits() -> Int {
            let first = index
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            return index - first
        }
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        let leading = index
        guard digits() > 0 else { throw JSONTape.invalid("a digit is expected at byte \(index)") }
        guard bytes[leading] != UInt8(ascii: "0") || index - leading == 1 else {
            throw JSONTape.invalid("a number must not start with 0 at byte \(leading)")
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            integer = false
            index += 1
            guard digits() > 0 else { throw JSONTape.invalid("a digit is expected at byte \(index)") }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            integer = false
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard digits() > 0 else { throw JSONTape.invalid("a digit is expected at byte \(index)") }
        }
        nodes.append(JSONTape.Node(kind: integer ? .integer : .number, start: start, end: index))
    }

    /// A string, checked: valid UTF-8, no raw control characters, escapes well formed.
    private mutating func string(_ bytes: UnsafeBufferPointer<UInt8>) throws {
        index += 1
        let start = index
        var escaped = false
        while true {
            guard index < bytes.count else { throw JSONTape.invalid("unterminated string") }
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") { break }
            if byte == UInt8(ascii: "\\") {
                escaped = true
                try escape(bytes)
            } else if byte < 0x20 {
                throw JSONTape.invalid("a control character in a string at byte \(index)")
            } else if byte < 0x80 {
                index += 1
            } else {
                try multibyte(bytes)
            }
        }
        nodes.append(JSONTape.Node(kind: escaped ? .escapedString : .string, start: start, end: index))
        index += 1
    }

    private mutating func escape(_ bytes: UnsafeBufferPointer<UInt8>) throws {
        guard index + 1 < bytes.count else { throw JSONTape.invalid("unterminated string") }
        switch bytes[index + 1] {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"), UInt8(ascii: "n"),
            UInt8(ascii: "r"), UInt8(ascii: "t"):
            index += 2
        case UInt8(ascii: "u"):
            let scalar = try hexQuad(bytes, at: index + 2)
            index += 6
            if (0xDC00...0xDFFF).contains(scalar) { throw JSONTape.invalid("a lone low surrogate at byte \(index - 6)") }
            if (0xD800...0xDBFF).contains(scalar) {
                guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u"),
                    (0xDC00...0xDFFF).contains(try hexQuad(bytes, at: index + 2))
                else { throw JSONTape.invalid("a lone high surrogate at byte \(index - 6)") }
                index += 6
            }
        default:
            throw JSONTape.invalid("an invalid escape at byte \(index)")
        }
    }

    private func hexQuad(_ bytes: UnsafeBufferPointer<UInt8>, at position: Int) throws -> UInt32 {
        guard position + 4 <= bytes.count else { throw JSONTape.invalid("unterminated string") }
        var value: UInt32 = 0
        for offset in 0..<4 {
            guard let digit = JSONTape.hexValue(bytes[position + offset]) else { throw JSONTape.invalid("an invalid \\u escape") }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    /// One UTF-8 sequence of two to four bytes, without overlong forms or surrogates.
    private mutating func multibyte(_ bytes: UnsafeBufferPointer<UInt8>) throws {
        let lead = bytes[index]
        let length: Int
        var second: ClosedRange<UInt8> = 0x80...0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: (length, second) = (3, 0xA0...0xBF)
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: (length, second) = (3, 0x80...0x9F)
        case 0xF0: (length, second) = (4, 0x90...0xBF)
        case 0xF1...0xF3: length = 4
        case 0xF4: (length, second) = (4, 0x80...0x8F)
        default: throw JSONTape.invalid("invalid UTF-8 at byte \(index)")
        }
        guard index + length <= bytes.count, second.contains(bytes[index + 1]) else {
            throw JSONTape.invalid("invalid UTF-8 at byte \(index)")
        }
        for offset in 2..<length where !(0x80...0xBF).contains(bytes[index + offset]) {
            throw JSONTape.invalid("invalid UTF-8 at byte \(index)")
        }
        index += length
    }
}
