public import NIOCore

/// A value of the Redis serialization protocol (RESP2): what a server replies.
public enum RESPValue: Sendable, Hashable {
    case simpleString(String)
    case error(String)
    case integer(Int)
    /// A bulk string; `nil` is the null bulk string.
    case bulkString(ByteBuffer?)
    /// An array; `nil` is the null array.
    case array([RESPValue]?)

    /// The value as text, for simple and bulk strings.
    public var string: String? {
        switch self {
        case .simpleString(let text): text
        case .bulkString(let buffer?): String(buffer: buffer)
        default: nil
        }
    }

    /// The value as an integer, for integers and for strings that hold one.
    public var int: Int? {
        switch self {
        case .integer(let value): value
        default: string.flatMap { Int($0) }
        }
    }

    /// The elements, for a non-null array.
    public var array: [RESPValue]? {
        if case .array(let elements?) = self { return elements }
        return nil
    }

    /// Whether this is a null bulk string or a null array.
    public var isNull: Bool {
        switch self {
        case .bulkString(nil), .array(nil): true
        default: false
        }
    }
}

/// Writes commands as RESP arrays of bulk strings.
enum RESPEncoder {
    static func encode(_ command: [RESPArgument], into buffer: inout ByteBuffer) {
        buffer.writeString("*\(command.count)\r\n")
        for argument in command {
            switch argument.storage {
            case .text(let text):
                buffer.writeString("$\(text.utf8.count)\r\n")
                buffer.writeString(text)
            case .bytes(let bytes):
                buffer.writeString("$\(bytes.readableBytes)\r\n")
                buffer.writeImmutableBuffer(bytes)
            }
            buffer.writeString("\r\n")
        }
    }
}

/// One argument of a command: text or raw bytes.
public struct RESPArgument: Sendable, Hashable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
    enum Storage: Sendable, Hashable {
        case text(String)
        case bytes(ByteBuffer)
    }

    let storage: Storage

    public init(_ text: String) { storage = .text(text) }
    public init(_ value: Int) { storage = .text(String(value)) }
    public init(bytes: ByteBuffer) { storage = .bytes(bytes) }
    public init(stringLiteral value: String) { self.init(value) }
    public init(integerLiteral value: Int) { self.init(value) }
}

/// Reads RESP2 replies, however the bytes are split across reads.
struct RESPDecoder: ByteToMessageDecoder {
    typealias InboundOut = RESPValue

    /// The deepest nesting of arrays accepted, against hostile or broken peers.
    static let maxDepth = 32
    /// The longest bulk string accepted: Redis's own limit (`proto-max-bulk-len`).
    static let maxBulkLength = 512 << 20
    /// The most elements one array may announce.
    static let maxArrayCount = 1 << 24

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        var view = buffer
        guard let value = try Self.parse(&view, depth: 0) else { return .needMoreData }
        buffer = view
        context.fireChannelRead(wrapInboundOut(value))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        try decode(context: context, buffer: &buffer)
    }

    /// One complete value from the front of `buffer` (consumed), or `nil` if more bytes
    /// are needed (nothing consumed).
    static func parse(_ buffer: inout ByteBuffer, depth: Int) throws -> RESPValue? {
        guard depth <= maxDepth else { throw RedisError.protocolError("arrays nested too deeply") }
        var view = buffer
        guard let marker = view.readInteger(as: UInt8.self), let line = readLine(&view) else { return nil }
        let value: RESPValue
        switch marker {
        case UInt8(ascii: "+"):
            value = .simpleString(line)
        case UInt8(ascii: "-"):
            value = .error(line)
        case UInt8(ascii: ":"):
            guard let number = Int(line) else { throw RedisError.protocolError("bad integer '\(line.prefix(32))'") }
            value = .integer(number)
        case UInt8(ascii: "$"):
            guard let length = Int(line), (-1...maxBulkLength).contains(length) else {
                throw RedisError.protocolError("bad bulk length '\(line.prefix(32))'")
            }
            if length == -1 {
                value = .bulkString(nil)
            } else {
                guard view.readableBytes - 2 >= length, let bytes = view.readSlice(length: length) else { return nil }
                guard view.readBytes(length: 2) == [13, 10] else { throw RedisError.protocolError("bulk string not terminated") }
                value = .bulkString(bytes)
            }
        case UInt8(ascii: "*"):
            guard let count = Int(line), (-1...maxArrayCount).contains(count) else {
                throw RedisError.protocolError("bad array length '\(line.prefix(32))'")
            }
            if count == -1 {
                value = .array(nil)
            } else {
                var elements: [RESPValue] = []
                elements.reserveCapacity(min(count, 1024))
                for _ in 0..<count {
                    guard let element = try parse(&view, depth: depth + 1) else { return nil }
                    elements.append(element)
                }
                value = .array(elements)
            }
        default:
            throw RedisError.protocolError("unknown type marker \(marker)")
        }
        buffer = view
        return value
    }

    private static func readLine(_ buffer: inout ByteBuffer) -> String? {
        let bytes = buffer.readableBytesView
        guard let cr = bytes.firstIndex(of: 13), bytes.index(after: cr) < bytes.endIndex, bytes[bytes.index(after: cr)] == 10 else {
            return nil
        }
        let length = cr - bytes.startIndex
        let line = buffer.readString(length: length)
        buffer.moveReaderIndex(forwardBy: 2)
        return line
    }
}
