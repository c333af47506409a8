/// A syntactically valid email address, compared case-insensitively.
///
/// Accepts the dot-atom form people actually use (`local@domain.tld`, ASCII); quoted
/// local parts and raw IP domains are refused.
public struct EmailAddress: Sendable, Hashable {
    /// The address as given (trimmed).
    public let value: String
    /// The form used for uniqueness and look-ups.
    public let normalized: String

    public static let maxLength = 254

    public init(_ raw: String) throws(InvalidValue) {
        let value = raw.trimmingWhitespace()
        guard !value.isEmpty else { throw InvalidValue("Must not be empty") }
        guard value.utf8.count <= Self.maxLength else {
            throw InvalidValue("Must be at most \(Self.maxLength) characters")
        }
        let parts = value.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2 else { throw InvalidValue("Must be an email address like name@example.com") }
        let (local, domain) = (parts[0], parts[1])
        guard Self.isValidLocalPart(local), Self.isValidDomain(domain) else {
            throw InvalidValue("Must be an email address like name@example.com")
        }
        self.value = value
        self.normalized = value.lowercased()
    }

    /// An address read back from the service's own store, where only valid ones are written.
    public init(stored value: String) {
        self.value = value
        self.normalized = value.lowercased()
    }

    private static let localCharacters = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+/=?^_`{|}~-.")

    private static func isValidLocalPart(_ local: Substring) -> Bool {
        guard (1...64).contains(local.utf8.count), local.allSatisfy(localCharacters.contains) else { return false }
        return !local.hasPrefix(".") && !local.hasSuffix(".") && !local.contains("..")
    }

    private static func isValidDomain(_ domain: Substring) -> Bool {
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2, domain.utf8.count <= 253 else { return false }
        for label in labels {
            guard (1...63).contains(label.utf8.count), !label.hasPrefix("-"), !label.hasSuffix("-"),
                label.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") })
            else { return false }
        }
        let topLevel = labels[labels.count - 1]
        return topLevel.count >= 2 && topLevel.allSatisfy(\.isLetter)
    }
}

extension String {
    /// The text without leading and trailing whitespace (Unicode's, not only ASCII).
    public func trimmingWhitespace() -> String {
        var slice = self[...]
        while let first = slice.first, first.isWhitespace { slice.removeFirst() }
        while let last = slice.last, last.isWhitespace { slice.removeLast() }
        return String(slice)
    }
}
