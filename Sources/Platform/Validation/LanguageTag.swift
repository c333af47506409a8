/// A BCP 47 language tag in its common form: a 2 or 3 letter language and optional
/// subtags (`en`, `de-CH`, `zh-Hant-TW`).
public struct LanguageTag: Sendable, Hashable {
    public let value: String

    public init(_ raw: String) throws(InvalidValue) {
        let parts = raw.split(separator: "-", omittingEmptySubsequences: false)
        guard raw.utf8.count <= 35, let language = parts.first,
            (2...3).contains(language.count), language.allSatisfy({ $0.isASCII && $0.isLetter }),
            parts.dropFirst().allSatisfy({ (1...8).contains($0.count) && $0.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) } })
        else { throw InvalidValue("Must be a language tag such as en or de-CH") }
        self.value = raw
    }

    /// A tag read back from storage, where only checked ones are written.
    public init(stored value: String) {
        self.value = value
    }
}
