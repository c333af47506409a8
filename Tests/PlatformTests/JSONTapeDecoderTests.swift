import Foundation
import Testing

@testable import Platform

/// `JSONTapeDecoder` against Foundation's `JSONDecoder`: the same values from the same
/// JSON, and the same kind of error at the same coding path for the mistakes clients make.
@Suite struct JSONTapeDecoderTests {
    enum Status: String, Codable, Equatable {
        case open, closed
    }

    struct Inner: Codable, Equatable {
        var sku: String
        var quantity: Int
        var price: Int64?
    }

    struct Sample: Codable, Equatable {
        var name: String
        var count: Int
        var big: Int64
        var small: UInt8
        var signed: Int8
        var ratio: Double
        var flag: Bool
        var note: String?
        var tags: [String]
        var nested: Inner?
        var lines: [Inner]
        var attributes: [String: String]
        var status: Status
        var when: Date?
        var blob: Data?
        var link: URL?
        var matrix: [[Int]]
    }

    /// What a decode gave: the value, or the error's case, coding path and (for a wrong
    /// type or a null) the type it wanted.
    enum Outcome<Value: Equatable>: Equatable, CustomStringConvertible {
        case value(Value)
        case failure(String)

        init(_ decode: () throws -> Value) {
            do {
                self = .value(try decode())
            } catch let error as DecodingError {
                func path(_ keys: [any CodingKey]) -> String {
                    keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
                }
                switch error {
                case .typeMismatch(let type, let context): self = .failure("typeMismatch \(type) at \(path(context.codingPath))")
                case .valueNotFound(let type, let context): self = .failure("valueNotFound \(type) at \(path(context.codingPath))")
                case .keyNotFound(let key, let context): self = .failure("keyNotFound \(key.stringValue) at \(path(context.codingPath))")
                case .dataCorrupted(let context): self = .failure("dataCorrupted at \(path(context.codingPath))")
                @unknown default: self = .failure("unknown")
                }
            } catch {
                self = .failure("other \(error)")
            }
        }

        var description: String {
            switch self {
            case .value(let value): "\(value)"
            case .failure(let text): text
            }
        }

        var failed: Bool {
            if case .failure = self { return true }
            return false
        }
    }

    static func outcomes<Value: Decodable & Equatable>(_ type: Value.Type, _ json: String) -> (foundation: Outcome<Value>, tape: Outcome<Value>) {
        let data = Data(json.utf8)
        return (Outcome { try JSONDecoder().decode(type, from: data) }, Outcome { try JSONTapeDecoder.decode(type, from: data) })
    }

    static let sample = #"""
        {"name":"Lamp \"Nord\" \u00e9\ud83d\ude00 \n\t/\\","count":-12,"big":9007199254740993,"small":255,"signed":-128,
         "ratio":0.1,"flag":true,"note":null,"tags":["a","",  "c"],"nested":{"sku":"L-1","quantity":2},
         "lines":[{"sku":"A","quantity":1,"price":2599},{"sku":"B","quantity":3,"price":null}],
         "attributes":{"colour":"red","size":"M"},"status":"open","when":12.5,"blob":"aGVsbG8=",
         "link":"https://shop.example/a?b=c","matrix":[[1,2],[],[3]]}
        """#

    @Test func aRichDocumentDecodesToTheSameValue() throws {
        let (foundation, tape) = Self.outcomes(Sample.self, Self.sample)
        #expect(!foundation.failed)
        #expect(tape == foundation)
    }

    @Test func randomValuesRoundTripAsFoundationReadsThem() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let sample = Sample(
                name: String((0..<Int.random(in: 0...12, using: &generator)).map { _ in "aé\"\\\n😀 x/\u{1}".randomElement()! }),
                count: Int.random(in: Int.min...Int.max, using: &generator),
                big: Int64.random(in: Int64.min...Int64.max, using: &generator),
                small: UInt8.random(in: 0...255, using: &generator),
                signed: Int8.random(in: -128...127, using: &generator),
                ratio: Double.random(in: -1e300...1e300, using: &generator),
                flag: Bool.random(using: &generator),
                note: Bool.random(using: &generator) ? "note" : nil,
                tags: (0..<Int.random(in: 0...4, using: &generator)).map { "t\($0)" },
                nested: Bool.random(using: &generator) ? Inner(sku: "S", quantity: 1, price: nil) : nil,
                lines: (0..<Int.random(in: 0...3, using: &generator)).map { Inner(sku: "L\($0)", quantity: $0, price: Int64($0) * 100) },
                attributes: Dictionary(uniqueKeysWithValues: (0..<Int.random(in: 0...20, using: &generator)).map { ("k\($0)", "v\($0)") }),
                status: Bool.random(using: &generator) ? .open : .closed,
                when: Date(timeIntervalSinceReferenceDate: Double(Int.random(in: -1_000_000...1_000_000, using: &generator))),
                blob: Data((0..<Int.random(in: 0...9, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }),
                link: URL(string: "https://shop.example/\(Int.random(in: 0...99, using: &generator))"),
                matrix: [[1], [], [2, 3]]
            )
            let json = String(decoding: try JSONEncoder().encode(sample), as: UTF8.self)
            let (foundation, tape) = Self.outcomes(Sample.self, json)
            #expect(foundation == .value(sample))
            #expect(tape == foundation, "\(json)")
        }
    }

    /// The mistakes a client makes, each as Foundation reports it.
    @Test(arguments: [
        #"{"a":1}"#, #"{"a":1.0}"#, #"{"a":1.5}"#, #"{"a":1e2}"#, #"{"a":1E+2}"#, #"{"a":-0}"#, #"{"a":1e400}"#,
        #"{"a":99999999999999999999}"#, #"{"a":9223372036854775807}"#, #"{"a":9223372036854775808}"#,
        #"{"a":-9223372036854775808}"#, #"{"a":"5"}"#, #"{"a":true}"#, #"{"a":null}"#, "{}", #"{"a":1,"a":2}"#,
        #"{"a":01}"#, #"{"a":-}"#, #"{"a":1.}"#, #"{"a":.5}"#, #"{"a":+1}"#, #"{"a":1}x"#, "\u{FEFF}{\"a\":1}",
        " {\"a\":1}\r\n\t", "", "[1]", "null", "5", "\"s\"", #"{"a":1,}"#, #"{"a":1.0e1}"#, #"{"a":0.1e1}"#, #"{"a":1e-2}"#,
        #"{"a":1.5e}"#, #"{"a":-01}"#, #"{"a":-0.0}"#, #"{"a":9223372036854775807.0}"#, #"{"a":9007199254740993.0}"#, #"{"a":2e18}"#,
        #"{"a":12.000e0}"#, #"{"a":1 "b":2}"#,
        #"{"a" 1}"#, #"{,"a":1}"#, #"{"a":1,,"b":2}"#, #"{"a":tru}"#, #"{"a":NaN}"#, #"{'a':1}"#, #"{a:1}"#, #"{"a":0x10}"#,
        #"{"a":[1]}"#, #"{"a":{}}"#, #"{"\u0061":7}"#, #"{"a\u0062":1,"a":2}"#,
    ])
    func anIntegerMemberIsReadAsFoundationReadsIt(json: String) {
        struct Body: Decodable, Equatable { let a: Int }
        let (foundation, tape) = Self.outcomes(Body.self, json)
        #expect(tape == foundation)
    }

    @Test(arguments: [
        #"{"a":"x"}"#, #"{"a":1}"#, #"{"a":"\u00e9\ud83d\ude00"}"#, #"{"a":"\ud800"}"#, #"{"a":"\udc00x"}"#, "{\"a\":\"a\u{1}b\"}",
        #"{"a":"\x"}"#, #"{"a":"\/"}"#, "{\"a\":\"\u{7f}\"}", #"{"a":"a\u0000b"}"#, #"{"a":"\uD83D\uDE00"}"#, #"{"a":"\u00"}"#,
        #"{"a":"\uZZZZ"}"#, #"{"a":"x"#, #"{"a":null}"#, #"{"a":["x"]}"#,
    ])
    func aStringMemberIsReadAsFoundationReadsIt(json: String) {
        struct Body: Decodable, Equatable { let a: String }
        let (foundation, tape) = Self.outcomes(Body.self, json)
        #expect(tape == foundation)
    }

    @Test(arguments: [
        #"{"a":1}"#, #"{"a":1.5}"#, #"{"a":1e400}"#, #"{"a":-1e-400}"#, #"{"a":"NaN"}"#, #"{"a":1e308}"#, #"{"a":4.9e-324}"#,
        #"{"a":123456789012345678901234567890}"#, #"{"a":0.1}"#, #"{"a":-0}"#, #"{"a":0e5}"#, #"{"a":0e0}"#, #"{"a":0.000}"#, #"{"a":-0.0e-0}"#,
    ])
    func aDoubleMemberIsReadAsFoundationReadsIt(json: String) {
        struct Body: Decodable, Equatable { let a: Double }
        let (foundation, tape) = Self.outcomes(Body.self, json)
        #expect(tape == foundation)
    }

    @Test(arguments: [
        #"{"a":{"x":1}}"#, #"{"a":null}"#, #"{"a":1}"#, #"{"a":{}}"#, #"{"a":[]}"#, #"{"b":[1,"x"]}"#, #"{"b":[1,null]}"#,
        #"{"b":{}}"#, #"{"b":[1,]}"#, #"{"c":[{"x":1},{}]}"#, #"{"c":[{"x":1},null]}"#, #"{"c":[{"x":1},5]}"#, #"{"d":"y"}"#,
        #"{"d":5}"#, #"{"d":null}"#, #"{"e":{"x":1,"y":"z"}}"#, #"{"e":{"x":1,"x":"z"}}"#, #"{"f":true}"#, #"{"f":1}"#,
        #"{"g":200}"#, #"{"g":256}"#, #"{"g":-1}"#, #"{"g":-0}"#, #"{"h":"aGk="}"#, #"{"h":"!"}"#, #"{"h":1}"#,
    ])
    func nestedValuesAreReadAsFoundationReadsThem(json: String) {
        struct In: Decodable, Equatable { let x: Int }
        struct Body: Decodable, Equatable {
            let a: In?
            let b: [Int]?
            let c: [In]?
            let d: Status?
            let e: [String: Int]?
            let f: Bool?
            let g: UInt8?
            let h: Data?
        }
        let (foundation, tape) = Self.outcomes(Body.self, json)
        #expect(tape == foundation)
    }

    @Test func nestingStopsAt512Levels() {
        struct Body: Decodable, Equatable { let a: Int }
        for depth in [510, 511, 512, 600, 100_000] {
            let json = "{\"a\":1,\"b\":" + String(repeating: "[", count: depth) + String(repeating: "]", count: depth) + "}"
            let (foundation, tape) = Self.outcomes(Body.self, json)
            #expect(tape == foundation, "depth \(depth)")
        }
    }

    @Test func invalidUTF8IsRefused() {
        struct Body: Decodable, Equatable { let a: String }
        for bad: [UInt8] in [[0xFF], [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xE2, 0x82], [0xF4, 0x90, 0x80, 0x80]] {
            let data = Data(#"{"a":"x"#.utf8) + Data(bad) + Data(#""}"#.utf8)
            #expect(Outcome { try JSONTapeDecoder.decode(Body.self, from: data) } == .failure("dataCorrupted at "))
        }
    }

    /// Every member is checked as it is read, where Foundation checks only those it decodes:
    /// the one difference, and only ever a refusal of JSON that is not valid.
    @Test(arguments: [#"{"a":1,"b":1e400}"#, #"{"a":1,"b":01}"#, #"{"a":1,"b":1.}"#, #"{"a":1,"b":"\ud800"}"#])
    func anIgnoredMemberThatIsNotValidJSONIsRefused(json: String) {
        struct Body: Decodable, Equatable { let a: Int }
        let (foundation, tape) = Self.outcomes(Body.self, json)
        #expect(foundation == .value(Body(a: 1)))
        if json.contains("1e400") {
            #expect(tape == .value(Body(a: 1)))
        } else {
            #expect(tape == .failure("dataCorrupted at "))
            #expect((try? JSONSerialization.jsonObject(with: Data(json.utf8))) == nil)
        }
    }

    @Test func anObjectOfManyMembersFindsEachByName() throws {
        let members = (0..<5000).map { "\"k\($0)\":\($0)" } + ["\"k7\":-1"]
        let json = "{" + members.joined(separator: ",") + "}"
        let (foundation, tape) = Self.outcomes([String: Int].self, json)
        #expect(tape == foundation)
        guard case .value(let values) = tape else { return }
        #expect(values.count == 5000 && values["k7"] == 7 && values["k4999"] == 4999)
    }

    @Test func userInfoReachesTheValues() throws {
        struct Body: Decodable {
            let strict: Bool
            init(from decoder: any Decoder) throws { strict = decoder.userInfo[RequestBodyDecoding.strictKey] as? Bool == true }
        }
        #expect(try JSONTapeDecoder.decode(Body.self, from: Data("{}".utf8), userInfo: [RequestBodyDecoding.strictKey: true]).strict)
        #expect(try !JSONTapeDecoder.decode(Body.self, from: Data("{}".utf8)).strict)
    }
}
