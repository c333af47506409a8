public import Foundation

/// Timestamps are stored as whole microseconds since 1970 (UTC) in a BIGINT column: exact,
/// ordered and identical on SQLite and PostgreSQL, so keyset cursors compare exactly.
extension Date {
    public var microsecondsSince1970: Int64 {
        Int64((timeIntervalSince1970 * 1_000_000).rounded(.down))
    }

    public init(microsecondsSince1970 value: Int64) {
        self.init(timeIntervalSince1970: TimeInterval(value) / 1_000_000)
    }

    /// Whole milliseconds since 1970, rounded down.
    public var millisecondsSince1970: Int64 {
        Int64((timeIntervalSince1970 * 1000).rounded(.down))
    }
}
