import Foundation
import Platform
import TestSupport
import Testing

/// ``ResponseJSONEncoder`` must write what ``JSONResponse/makeEncoder()`` writes, byte for
/// byte: bodies, and the ETags made from them, stay what they were.
@Suite struct ResponseJSONEncoderTests {
    static func foundation(_ value: some Encodable) throws -> [UInt8] {
        Array(try JSONResponse.makeEncoder().encode(value))
    }

    /// Any JSON value, built from every kind of thing a response holds.
    indirect enum Tree: Encodable {
        case string(String), integer(Int64), unsigned(UInt64), double(Double), float(Float), bool(Bool), null
        case date(Date), data(Data), url(URL), decimal(Decimal)
        case array([Tree]), object([(String, Tree)])

        struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        func encode(to encoder: any Encoder) throws {
            switch self {
            case .array(let items):
                var container = encoder.unkeyedContainer()
                for item in items { try container.encode(item) }
            case .object(let members):
                var container = encoder.container(keyedBy: Key.self)
                for (key, value) in members { try container.encode(value, forKey: Key(stringValue: key)) }
            default:
                var container = encoder.singleValueContainer()
                switch self {
                case .string(let value): try container.encode(value)
                case .integer(let value): try container.encode(value)
                case .unsigned(let value): try container.encode(value)
                case .double(let value): try container.encode(value)
                case .float(let value): try container.encode(value)
                case .bool(let value): try container.encode(value)
                case .null: try container.encodeNil()
                case .date(let value): try container.encode(value)
                case .data(let value): try container.encode(value)
                case .url(let value): try container.encode(value)
                case .decimal(let value): try container.encode(value)
                case .array, .object: break
                }
            }
        }
    }

    static let strangeStrings = [
        "", "plain", "quote\" back\\ slash/ nl\n tab\t cr\r", "nul\u{0} bell\u{7} bs\u{8} ff\u{c} us\u{1f} del\u{7f}",
        "é ü ß", "😀 family 👨‍👩‍👧", "\u{2028}\u{2029}", "</script>", "https://shop.example/a/b?c=d&e=f",
        "\u{FFFD}\u{FEFF}", "ｗｉｄｅ", "日本語",
    ]
    static let keys = ["id", "ID", "Id", "_id", "a", "a10", "a2", "aB", "a_b", "ab", "b", "z", "é", "😀", "\u{FFFD}", "line1", "", "a b"]

    static func randomTree(depth: Int, using generator: inout some RandomNumberGenerator) -> Tree {
        let choice = Int.random(in: 0..<(depth > 3 ? 11 : 13), using: &generator)
        switch choice {
        case 0: return .string(strangeStrings.randomElement(using: &generator)!)
        case 1: return .integer(Int64.random(in: Int64.min...Int64.max, using: &generator))
        case 2: return .unsigned(UInt64.random(in: 0...UInt64.max, using: &generator))
        case 3:
            let specials: [Double] = [0, -0.0, 1, 100, 0.1, 1e-7, 1e21, 123_456_789.125, Double.leastNonzeroMagnitude, 1.7976931348623157e308, -2.5]
            return .double(
                Bool.random(using: &generator) ? specials.randomElement(using: &generator)! : Double.random(in: -1e6...1e6, using: &generator)
            )
        case 4: return .float(Float.random(in: -1000...1000, using: &generator))
        case 5: return .bool(Bool.random(using: &generator))
        case 6: return .null
        case 7: return .date(Date(timeIntervalSince1970: Double.random(in: 0...4_000_000_000, using: &generator)))
        case 8: return .data(Data((0..<Int.random(in: 0...20, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }))
        case 9:
            return .url(
                URL(
                    string: ["https://shop.example/a%20b", "https://shop.example/p?x=1&y=%2F", "mailto:a@b.example"].randomElement(using: &generator)!
                )!
            )
        case 10: return .decimal(Decimal(string: ["12.50", "0", "-3.14159", "1000000000000000000000"].randomElement(using: &generator)!)!)
        case 11: return .array((0..<Int.random(in: 0...5, using: &generator)).map { _ in randomTree(depth: depth + 1, using: &generator) })
        default:
            return .object(
                (0..<Int.random(in: 0...7, using: &generator)).map { _ in
                    (keys.randomElement(using: &generator)!, randomTree(depth: depth + 1, using: &generator))
                }
            )
        }
    }

    @Test func randomValuesAreWrittenAsFoundationWritesThem() throws {
        var generator = SplitMix64(seed: 20_261_207)
        for _ in 0..<3_000 {
            let tree = Self.randomTree(depth: 0, using: &generator)
            let ours = try ResponseJSONEncoder.encode(tree)
            let theirs = try Self.foundation(tree)
            #expect(ours == theirs, "\(String(decoding: theirs, as: UTF8.self))")
            if ours != theirs { break }
        }
    }

    struct Address: Codable, Hashable, Sendable {
        var line1: String
        var line2: String?
        var country: String
    }

    enum State: String, Codable { case open, closed }

    struct Resource: Codable {
        var id: String
        var createdAt: Date
        var state: State
        var tags: [String]
        var counts: [String: Int]
        var byNumber: [Int: String]
        var address: Address?
        var history: [Address]
        var note: String?
        var ratio: Double

        enum CodingKeys: String, CodingKey {
            case id, state, tags, counts, address, history, note, ratio
            case createdAt = "created_at"
            case byNumber = "by_number"
        }
    }

    /// Synthesized conformances as the API's resources use them: absent optionals left out,
    /// nested structures, enums, dictionaries with string and integer keys, in an envelope.
    @Test func resourcesInTheirEnvelopesAreWrittenAsFoundationWritesThem() throws {
        let resource = Resource(
            id: "ord_0123456789abcdef01234567",
            createdAt: Date(timeIntervalSince1970: 1_780_000_000),
            state: .open,
            tags: ["a/b", "c\"d"],
            counts: ["z": 1, "a": 2, "M": 3],
            byNumber: [10: "ten", 2: "two"],
            address: Address(line1: "1 Load Street", line2: nil, country: "DE"),
            history: [Address(line1: "x", line2: "y", country: "FR")],
            note: nil,
            ratio: 0.25
        )
        for value in [Envelope(data: resource), Envelope(data: [resource, resource])] as [any Encodable] {
            #expect(try ResponseJSONEncoder.encode(value) == Self.foundation(value))
        }
        let error = APIError.validation("Must be one of: a, b", field: "state")
        let envelope = ErrorEnvelope(error, requestID: "req-1")
        #expect(try ResponseJSONEncoder.encode(envelope) == Self.foundation(envelope))
    }

    /// What hand-written conformances may do: a key given twice (the last one stands),
    /// nested containers, a super encoder, a value that encodes nothing.
    struct Unusual: Encodable {
        enum Key: String, CodingKey { case a, b, nested, list, `super` }
        struct Nothing: Encodable { func encode(to encoder: any Encoder) throws {} }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Key.self)
            try container.encode(1, forKey: .b)
            try container.encode("first", forKey: .a)
            try container.encode("second", forKey: .a)
            var nested = container.nestedContainer(keyedBy: Key.self, forKey: .nested)
            try nested.encodeNil(forKey: .b)
            try nested.encode(Nothing(), forKey: .a)
            var list = container.nestedUnkeyedContainer(forKey: .list)
            try list.encode(true)
            var inner = list.nestedUnkeyedContainer()
            try inner.encode(Int8(-8))
            try list.encode(Nothing())
            try Address(line1: "s", line2: nil, country: "DE").encode(to: container.superEncoder())
        }
    }

    @Test func handWrittenConformancesAreWrittenAsFoundationWritesThem() throws {
        #expect(try ResponseJSONEncoder.encode(Unusual()) == Self.foundation(Unusual()))
        for value in ["top", "a\u{0}b"] { #expect(try ResponseJSONEncoder.encode(value) == Self.foundation(value)) }
        #expect(try ResponseJSONEncoder.encode(42) == Self.foundation(42))
        #expect(try ResponseJSONEncoder.encode([Int]()) == Self.foundation([Int]()))
        #expect(try ResponseJSONEncoder.encode([String: Int]()) == Self.foundation([String: Int]()))
    }

    /// JSON encoded once and put into a response as it is reads as if the value had been
    /// encoded there; only this encoder writes it.
    @Test func encodedJSONIsPutInAsItIs() throws {
        let resources = [
            Address(line1: "1 Load Street", line2: nil, country: "DE"), Address(line1: "x\"y", line2: "é/ü", country: "FR"),
        ]
        let encoded = try resources.map { try EncodedJSON(encoding: $0) }
        let meta = PageMeta(page: 1, perPage: 20, total: 2)
        #expect(try ResponseJSONEncoder.encode(Envelope(data: encoded, meta: meta)) == Self.foundation(Envelope(data: resources, meta: meta)))
        #expect(try ResponseJSONEncoder.encode(Envelope(data: encoded[1])) == Self.foundation(Envelope(data: resources[1])))
        #expect(throws: EncodingError.self) { try JSONResponse.makeEncoder().encode(encoded) }
    }

    /// Kept by the value itself: the same value is encoded once, a changed one anew, and
    /// no more than the limit are kept.
    @Test func theCacheEncodesEachValueOnceAndKeepsNoMoreThanItsLimit() throws {
        let cache = EncodedJSONCache<Address>(limit: 3)
        nonisolated(unsafe) var encodings = 0
        func json(_ address: Address) throws -> EncodedJSON {
            try cache.encoded(address) {
                encodings += 1
                return try EncodedJSON(encoding: $0)
            }
        }
        var address = Address(line1: "1 Load Street", line2: nil, country: "DE")
        let first = try json(address)
        #expect(try json(address) == first)
        #expect(encodings == 1)
        address.line2 = "Floor 2"
        let changed = try json(address)
        #expect(encodings == 2)
        #expect(changed != first)
        #expect(changed.bytes == Array(try JSONResponse.makeEncoder().encode(address)))
        for number in 0..<10 { _ = try json(Address(line1: "\(number)", line2: nil, country: "DE")) }
        #expect(cache.count == 3)
        cache.removeAll()
        #expect(cache.count == 0)
        _ = try json(address)
        #expect(encodings == 13)
    }

    /// Whatever is kept is dropped once it is older than the cache's age limit.
    @Test func theCacheForgetsEverythingPastItsAge() async throws {
        let cache = EncodedJSONCache<Address>(limit: 10, maximumAge: .milliseconds(50))
        let address = Address(line1: "1 Load Street", line2: nil, country: "DE")
        _ = try cache.encoded(address) { try EncodedJSON(encoding: $0) }
        #expect(cache.count == 1)
        try await Task.sleep(for: .milliseconds(120))
        nonisolated(unsafe) var encoded = false
        _ = try cache.encoded(address) {
            encoded = true
            return try EncodedJSON(encoding: $0)
        }
        #expect(encoded)
        #expect(cache.count == 1)
    }

    @Test func numbersThatAreNotJSONAreRefused() {
        for value in [Double.nan, .infinity, -.infinity] {
            #expect(throws: EncodingError.self) { try ResponseJSONEncoder.encode(["x": value]) }
            #expect(throws: EncodingError.self) { try ResponseJSONEncoder.encode([value]) }
        }
        #expect(throws: EncodingError.self) { try ResponseJSONEncoder.encode(Float.nan) }
    }

    @Test func aRefusedNumberNamesWhereItIsAsFoundationDoes() {
        struct Line: Encodable { let price: Double }
        struct Order: Encodable {
            let lines: [Line]
            let ratios: [[Double]]
        }
        func path(_ encode: () throws -> Any) -> [String] {
            guard case .failure(let error) = Result(catching: encode) else { return ["no error"] }
            guard case EncodingError.invalidValue(_, let context) = error else { return ["\(error)"] }
            return context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
        }
        for order in [
            Order(lines: [Line(price: 1), Line(price: .nan)], ratios: []), Order(lines: [], ratios: [[1], [2, .infinity]]),
        ] {
            let ours = path { try ResponseJSONEncoder.encode(order) }
            #expect(ours == path { try JSONEncoder().encode(order) })
            #expect(ours.count == 3)
        }
    }
}
