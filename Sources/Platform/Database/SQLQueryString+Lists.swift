public import SQLKit

extension SQLQueryString {
    /// Appends `(v1, v2, …)` with every value bound: an `IN` list, or a row value for a
    /// keyset comparison. An empty list is the caller's to avoid (it is not valid SQL).
    public mutating func appendBoundList<Value: Encodable & Sendable>(_ values: [Value]) {
        appendInterpolation(unsafeRaw: "(")
        for (index, value) in values.enumerated() {
            if index > 0 { appendInterpolation(unsafeRaw: ", ") }
            appendInterpolation(bind: value)
        }
        appendInterpolation(unsafeRaw: ")")
    }
}
