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

/// Collects every invalid field of a request, so they are all reported at once.
public struct Validation: Sendable {
    public private(set) var problems: [Problem] = []

    public init() {}

    /// Runs `make`; a thrown ``InvalidValue`` is recorded against `field` and gives `nil`.
    public mutating func field<Value>(_ field: String, _ make: () throws(InvalidValue) -> Value) -> Value? {
        do {
            return try make()
        } catch {
            problems.append(Problem(.validationError, error.reason, field: field))
            return nil
        }
    }

    /// Records that `field` is required but missing.
    public mutating func missing(_ field: String) {
        problems.append(Problem(.validationError, "Is required", field: field))
    }

    /// Records a problem with `field`.
    public mutating func invalid(_ field: String, _ reason: String) {
        problems.append(Problem(.validationError, reason, field: field))
    }

    /// Throws all recorded problems as one ``APIError``, if there are any.
    public func check() throws(APIError) {
        if !problems.isEmpty { throw APIError(problems) }
    }
}
