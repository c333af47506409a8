/// The success envelope of `API.md`: `{ "data": ..., "meta": {...}, "errors": [] }`.
public struct Envelope<Data: Encodable & Sendable, Meta: Encodable & Sendable>: Encodable, Sendable {
    public var data: Data
    public var meta: Meta

    public init(data: Data, meta: Meta) {
        self.data = data
        self.meta = meta
    }

    enum CodingKeys: String, CodingKey {
        case data, meta, errors
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(data, forKey: .data)
        try container.encode(meta, forKey: .meta)
        try container.encode([Problem](), forKey: .errors)
    }
}

extension Envelope where Meta == EmptyMeta {
    public init(data: Data) {
        self.init(data: data, meta: EmptyMeta())
    }
}

/// `meta` for a single resource: always present, empty.
public struct EmptyMeta: Encodable, Sendable, Hashable {
    public init() {}
}

/// The error envelope of `API.md`.
public struct ErrorEnvelope: Codable, Sendable, Hashable {
    public struct MainError: Codable, Sendable, Hashable {
        public var code: ErrorCode
        public var message: String
        public var field: String?
        public var declineCode: String?
        public var requestID: String

        enum CodingKeys: String, CodingKey {
            case code, message, field
            case declineCode = "decline_code"
            case requestID = "request_id"
        }
    }

    public var error: MainError
    public var errors: [Problem]

    public init(_ error: APIError, requestID: String) {
        let main = error.main
        self.error = MainError(code: main.code, message: main.message, field: main.field, declineCode: main.declineCode, requestID: requestID)
        self.errors = error.problems
    }
}
