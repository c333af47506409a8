import Foundation

/// Ids a service makes for its own records: a prefix naming the kind (`ord`, `pay`,
/// `cart`, `rep`), an underscore and 24 lower-case hex digits. Ids are never a key to
/// anything (each read checks who asks), and none is counted up, so none tells how many
/// came before it.
public enum RandomID {
    /// A new id of 96 random bits.
    public static func make(_ prefix: String) -> String {
        var generator = SystemRandomNumberGenerator()
        return format(prefix, high: UInt64(generator.next() as UInt32), low: generator.next())
    }

    /// A new id that sorts after those made before it: 48 bits of the time in milliseconds,
    /// then 48 random bits (UUIDv7's layout, RFC 9562). A row keyed by it is added at the end
    /// of its index, on a page the rows before it wrote already, not on a random page of
    /// its own; that is most of what writing an order costs the disk. For the ids of rows
    /// that are written often (orders, payments, notifications), never for secrets: the
    /// time is readable in it, and 48 random bits a millisecond are not a password.
    public static func timeOrdered(_ prefix: String, at now: Date = Date()) -> String {
        var generator = SystemRandomNumberGenerator()
        let milliseconds = UInt64(max(0, now.timeIntervalSince1970 * 1000)) & 0xFFFF_FFFF_FFFF
        let random = (generator.next() as UInt64) & 0xFFFF_FFFF_FFFF
        // 24 hex digits: the top 32 bits of the milliseconds, then their low 16 and the random 48.
        return format(prefix, high: milliseconds >> 16, low: (milliseconds & 0xFFFF) << 48 | random)
    }

    /// Whether `raw` has the shape of an id made with `prefix` (checked before any query).
    public static func isValid(_ raw: String, prefix: String) -> Bool {
        raw.utf8.count == prefix.utf8.count + 25 && raw.hasPrefix(prefix + "_")
            && raw.utf8.dropFirst(prefix.utf8.count + 1).allSatisfy {
                (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0)
            }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// `prefix_`, then the low 32 bits of `high` and the 64 of `low` as 24 hex digits.
    private static func format(_ prefix: String, high: UInt64, low: UInt64) -> String {
        var digits = [UInt8](repeating: 0, count: 24)
        for index in 0..<8 { digits[index] = hexDigits[Int((high >> UInt64(28 - 4 * index)) & 0xF)] }
        for index in 0..<16 { digits[8 + index] = hexDigits[Int((low >> UInt64(60 - 4 * index)) & 0xF)] }
        return prefix + "_" + String(decoding: digits, as: UTF8.self)
    }
}
