import Platform

/// A password as chosen by its user: 8 to 128 characters (512 bytes). It is never logged
/// or shown.
struct Password: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    let value: String

    static let lengths = 8...128

    init(_ raw: String) throws(InvalidValue) {
        guard raw.utf8.count <= TextBounds.maxBytes(forCharacters: Self.lengths.upperBound) else {
            throw InvalidValue("Must be at most \(TextBounds.maxBytes(forCharacters: Self.lengths.upperBound)) bytes")
        }
        guard TextBounds.length(raw) >= Self.lengths.lowerBound else {
            throw InvalidValue("Must be at least \(Self.lengths.lowerBound) characters")
        }
        guard TextBounds.length(raw) <= Self.lengths.upperBound else {
            throw InvalidValue("Must be at most \(Self.lengths.upperBound) characters")
        }
        guard !raw.allSatisfy(\.isWhitespace) else { throw InvalidValue("Must not be only spaces") }
        self.value = raw
    }

    var description: String { "<password>" }
    var debugDescription: String { "<password>" }
}
