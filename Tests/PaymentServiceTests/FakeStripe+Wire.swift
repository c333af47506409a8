import Foundation

extension FakeStripe {
    /// A form body or query as Stripe reads it: names keep their brackets
    /// (`metadata[payment_id]`, `expand[]`).
    struct Form: Sendable {
        struct Field: Sendable {
            let name: String
            let value: String
        }

        let fields: [Field]

        /// `nil` when `encoded` is not valid form encoding.
        init?(_ encoded: String) {
            var fields: [Field] = []
            for pair in encoded.split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts.count == 2, let name = Self.decoded(parts[0]), let value = Self.decoded(parts[1]) else { return nil }
                fields.append(Field(name: name, value: value))
            }
            self.fields = fields
        }

        private static func decoded(_ text: Substring) -> String? {
            text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
        }

        subscript(name: String) -> String? { fields.last { $0.name == name }?.value }

        func values(_ name: String) -> [String] { fields.filter { $0.name == name }.map(\.value) }

        /// The members of a hash parameter: `metadata[payment_id]=x` is `["payment_id": "x"]` of `metadata`.
        func hash(_ name: String) -> [String: String] {
            var members: [String: String] = [:]
            for field in fields where field.name.hasPrefix("\(name)[") && field.name.hasSuffix("]") {
                members[String(field.name.dropFirst(name.count + 1).dropLast())] = field.value
            }
            return members
        }

        /// The parameters whatever their order, to compare two requests made with one key.
        var fingerprint: String { fields.map { "\($0.name)=\($0.value)" }.sorted().joined(separator: "&") }
    }

    /// A JSON value, to answer in Stripe's shapes.
    enum JSON: Sendable, Encodable, ExpressibleByStringLiteral, ExpressibleByBooleanLiteral, ExpressibleByNilLiteral,
        ExpressibleByDictionaryLiteral
    {
        case string(String)
        case int(Int64)
        case bool(Bool)
        case null
        case array([JSON])
        case object([String: JSON])

        init(_ string: String?) { self = string.map { .string($0) } ?? .null }
        init(stringLiteral value: String) { self = .string(value) }
        init(booleanLiteral value: Bool) { self = .bool(value) }
        init(nilLiteral: ()) { self = .null }
        init(dictionaryLiteral elements: (String, JSON)...) { self = .object(Dictionary(uniqueKeysWithValues: elements)) }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .string(let value): try container.encode(value)
            case .int(let value): try container.encode(value)
            case .bool(let value): try container.encode(value)
            case .null: try container.encodeNil()
            case .array(let values): try container.encode(values)
            case .object(let members): try container.encode(members)
            }
        }

        var text: String {
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            return String(decoding: (try? encoder.encode(self)) ?? Data("null".utf8), as: UTF8.self)
        }
    }
}
