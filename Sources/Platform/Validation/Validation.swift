/// A value that failed its own rules, with a reason fit for a client.
///
/// Domain value types (an email, a name) throw this from their initializers, so that an
/// invalid one cannot exist past the edge.
public struct InvalidValue: Error, Sendable, Hashable {
    public var reason: String

    public init(_ reason: String) {
        self.reason = reason
    }
}

/// Collects every invalid field of a request, so they are all reported at once: invalid
/// values first, in the order checked, then missing ones.
public struct Validation: Sendable {
    private var invalidValues: [Problem] = []
    private var missingValues: [Problem] = []

    /// Every problem recorded.
    public var problems: [Problem] { invalidValues + missingValues }

    public init() {}

    /// Runs `make`; a thrown ``InvalidValue`` is recorded against `field` and gives `nil`.
    public mutating func field<Value>(_ field: String, _ make: () throws(InvalidValue) -> Value) -> Value? {
        do {
            return try make()
        } catch {
            invalidValues.append(Problem(.validationError, error.reason, field: field))
            return nil
        }
    }

    /// Records that `field` is required but missing.
    public mutating func missing(_ field: String) {
        missingValues.append(Problem(.validationError, "Is required", field: field))
    }

    /// Records a problem with `field`.
    public mutating func invalid(_ field: String, _ reason: String) {
        invalidValues.append(Problem(.validationError, reason, field: field))
    }

    /// Throws all recorded problems as one ``APIError``, if there are any.
    public func check() throws(APIError) {
        if !problems.isEmpty { throw APIError(problems) }
    }

    /// `raw` made into a value by `make`, which must be there: a missing one is recorded
    /// as missing, an invalid one with its reason. `nil` in both cases.
    public mutating func required<Raw, Value>(_ field: String, _ raw: Raw?, _ make: (Raw) throws(InvalidValue) -> Value) -> Value? {
        guard let raw else {
            missing(field)
            return nil
        }
        return self.field(field) { () throws(InvalidValue) in try make(raw) }
    }

    /// `raw`, which must be there.
    public mutating func required<Value>(_ field: String, _ raw: Value?) -> Value? {
        if raw == nil { missing(field) }
        return raw
    }

    /// `raw` made into a value by `make` when it was sent; `nil` when it was not, or is invalid.
    public mutating func optional<Raw, Value>(_ field: String, _ raw: Raw?, _ make: (Raw) throws(InvalidValue) -> Value) -> Value? {
        guard let raw else { return nil }
        return self.field(field) { () throws(InvalidValue) in try make(raw) }
    }

    /// A `PATCH` field that may be left out but not set to `null`: `raw` made into a value
    /// by `make` when sent; `nil` when left out, null (recorded) or invalid (recorded).
    public mutating func change<Raw, Value>(_ field: String, _ raw: PatchField<Raw>, _ make: (Raw) throws(InvalidValue) -> Value) -> Value? {
        switch raw {
        case .absent:
            return nil
        case .null:
            invalid(field, "Must not be null")
            return nil
        case .value(let value):
            return self.field(field) { () throws(InvalidValue) in try make(value) }
        }
    }

    /// The required values, once every field is valid; all recorded problems otherwise.
    ///
    /// Pass what ``required(_:_:_:)`` returned: with no problem recorded, none is `nil`.
    public func check<each Value>(_ values: repeat (each Value)?) throws(APIError) -> (repeat each Value) {
        try check()
        return (repeat try Self.present(each values))
    }

    private static func present<Value>(_ value: Value?) throws(APIError) -> Value {
        guard let value else { throw APIError(.internalError, "A required value was not validated") }
        return value
    }
}
