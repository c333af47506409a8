import Platform

/// A person's display name: 1 to 100 characters (400 bytes), no control characters.
struct PersonName: Sendable, Hashable {
    let value: String

    static let maxLength = 100

    init(_ raw: String) throws(InvalidValue) {
        let value = raw.trimmingWhitespace()
        guard !value.isEmpty else { throw InvalidValue("Must not be empty") }
        try TextBounds.check(value, characters: 1...Self.maxLength)
        guard !value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw InvalidValue("Must not contain control characters")
        }
        self.value = value
    }

    /// A name read back from the service's own store, where only valid ones are written.
    init(stored value: String) {
        self.value = value
    }
}
