import Foundation

/// Reads the top level of a JSON object without building it: each member's key, and the
/// bytes of its value, every value checked to be well-formed JSON. An event's `data` is
/// passed on as the bytes it arrived as, and its envelope costs no `JSONSerialization`.
struct JSONObjectReader {
    struct Malformed: Error {}

    /// Nesting deeper than this is refused rather than followed (junk on a stream must
    /// not exhaust the stack).
    static let maximumDepth = 256

    private let bytes: [UInt8]
    private var index = 0

    /// The members of the object `bytes` hold, in order, or `Malformed`.
    static func members(of bytes: [UInt8]) throws -> [(key: String, value: Range<Int>)] {
        var reader = JSONObjectReader(bytes: bytes)
        var members: [(key: String, value: Range<Int>)] = []
        reader.skipSpace()
        try reader.consume(UInt8(ascii: "{"))
        reader.skipSpace()
        if reader.peek() == UInt8(ascii: "}") {
            reader.index += 1
        } else {
            while true {
                reader.skipSpace()
                let key = try reader.string()
                reader.skipSpace()
                try reader.consume(UInt8(ascii: ":"))
                reader.skipSpace()
                let start = reader.index
                try reader.value(depth: 1)
                members.append((key, start..<reader.index))
                reader.skipSpace()
                if reader.peek() == UInt8(ascii: ",") {
                    reader.index += 1
                    continue
                }
                try reader.consume(UInt8(ascii: "}"))
                break
            }
        }
        reader.skipSpace()
        guard reader.index == bytes.count else { throw Malformed() }
        return members
    }

    /// The text of a JSON string value (`bytes[range]` as `members(of:)` found it), or nil
    /// when the value is not a string.
    static func string(in bytes: [UInt8], _ range: Range<Int>) -> String? {
        guard bytes[range.lowerBound] == UInt8(ascii: "\"") else { return nil }
        var reader = JSONObjectReader(bytes: bytes)
        reader.index = range.lowerBound
        return try? reader.string()
    }

    private init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    private func peek() -> UInt8? {
        index < bytes.count ? bytes[index] : nil
    }

    private mutating func consume(_ byte: UInt8) throws {
        guard peek() == byte else { throw Malformed() }
        index += 1
    }

    private mutating func skipSpace() {
        while let byte = peek(),
            byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r")
                || byte == UInt8(ascii: "\t")
        {
            index += 1
        }
    }

    private mutating func value(depth: Int) throws {
        guard depth <= Self.maximumDepth, let byte = peek() else { throw Malformed() }
        switch byte {
        case UInt8(ascii: "\""):
            _ = try string()
        case UInt8(ascii: "{"):
            index += 1
            skipSpace()
            if peek() == UInt8(ascii: "}") {
                index += 1
                return
            }
            while true {
                skipSpace()
                _ = try string()
                skipSpace()
                try consume(UInt8(ascii: ":"))
                skipSpace()
                try value(depth: depth + 1)
                skipSpace()
                if peek() == UInt8(ascii: ",") {
                    index += 1
                    continue
                }
                try consume(UInt8(ascii: "}"))
                return
            }
        case UInt8(ascii: "["):
            index += 1
            skipSpace()
            if peek() == UInt8(ascii: "]") {
                index += 1
                return
            }
            while true {
                skipSpace()
                try value(depth: depth + 1)
                skipSpace()
                if peek() == UInt8(ascii: ",") {
                    index += 1
                    continue
                }
                try consume(UInt8(ascii: "]"))
                return
            }
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default: try number()
        }
    }

    private mutating func literal(_ word: String) throws {
        for byte in word.utf8 { try consume(byte) }
    }

    private mutating func digits() throws {
        let start = index
        while let byte = peek(), byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") { index += 1 }
        guard index > start else { throw Malformed() }
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    private mutating func number() throws {
        if peek() == UInt8(ascii: "-") { index += 1 }
        if peek() == UInt8(ascii: "0") {
            index += 1
        } else {
            try digits()
        }
        if peek() == UInt8(ascii: ".") {
            index += 1
            try digits()
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            index += 1
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { index += 1 }
            try digits()
        }
    }

    /// A string at `index`, unescaped; raw control characters and invalid UTF-8 or
    /// escapes are malformed.
    private mutating func string() throws -> String {
        try consume(UInt8(ascii: "\""))
        var text: [UInt8] = []
        while true {
            guard let byte = peek() else { throw Malformed() }
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                guard let decoded = String(validating: text, as: UTF8.self) else { throw Malformed() }
                return decoded
            case UInt8(ascii: "\\"):
                guard let escaped = peek() else { throw Malformed() }
                index += 1
                switch escaped {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): text.append(escaped)
                case UInt8(ascii: "b"): text.append(0x08)
                case UInt8(ascii: "f"): text.append(0x0C)
                case UInt8(ascii: "n"): text.append(0x0A)
                case UInt8(ascii: "r"): text.append(0x0D)
                case UInt8(ascii: "t"): text.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hexQuad()
                    if (0xD800...0xDBFF).contains(scalar) {
                        try consume(UInt8(ascii: "\\"))
                        try consume(UInt8(ascii: "u"))
                        let low = try hexQuad()
                        guard (0xDC00...0xDFFF).contains(low) else { throw Malformed() }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let unicode = Unicode.Scalar(scalar) else { throw Malformed() }
                    text.append(contentsOf: String(Character(unicode)).utf8)
                default: throw Malformed()
                }
            case 0..<0x20:
                throw Malformed()
            default:
                text.append(byte)
            }
        }
    }

    private mutating func hexQuad() throws -> UInt32 {
        guard index + 4 <= bytes.count else { throw Malformed() }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw Malformed()
            }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }
}
