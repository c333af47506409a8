import Platform

/// Parameters in Stripe's encoding: `application/x-www-form-urlencoded`, with nested
/// members in bracket notation (`metadata[payment_id]=...`, `expand[]=...`). The same
/// encoding serves a POST body and a GET query.
struct StripeForm: Sendable, Hashable {
    struct Field: Sendable, Hashable {
        let name: String
        let value: String
    }

    private(set) var fields: [Field] = []

    /// Appends `value` under `name`; a name may repeat (`expand[]`).
    mutating func add(_ name: String, _ value: String) {
        fields.append(Field(name: name, value: value))
    }

    /// `name=value&...`, every byte but the unreserved ones percent-encoded.
    var encoded: String {
        fields.map { "\(Self.percentEncoded($0.name))=\(Self.percentEncoded($0.value))" }.joined(separator: "&")
    }

    /// `text` with every byte outside RFC 3986's unreserved set as `%XX`.
    static func percentEncoded(_ text: String) -> String {
        PercentEncoding.encoded(text)
    }
}
