/// Ids a service makes for its own records: a prefix naming the kind (`ord`, `pay`,
/// `cart`, `rep`), an underscore and 96 random bits as 24 lower-case hex digits, so they
/// cannot be guessed or counted.
public enum RandomID {
    /// A new id, e.g. `ord_1f3a…`.
    public static func make(_ prefix: String) -> String {
        var generator = SystemRandomNumberGenerator()
        let words = (0..<3).map { _ in String(generator.next() as UInt32, radix: 16) }
        return prefix + "_" + words.map { String(repeating: "0", count: 8 - $0.count) + $0 }.joined()
    }

    /// Whether `raw` has the shape of an id made with `prefix` (checked before any query).
    public static func isValid(_ raw: String, prefix: String) -> Bool {
        raw.utf8.count == prefix.utf8.count + 25 && raw.hasPrefix(prefix + "_")
            && raw.utf8.dropFirst(prefix.utf8.count + 1).allSatisfy {
                (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0)
            }
    }
}
