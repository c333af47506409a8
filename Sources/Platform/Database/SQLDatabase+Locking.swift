public import SQLKit

extension SQLDatabase {
    /// ` FOR UPDATE` on PostgreSQL, where a row read to decide a write must stay locked
    /// until the transaction ends; nothing on SQLite, whose writers already take turns for
    /// the whole transaction.
    public var forUpdate: String { dialect.name == "sqlite" ? "" : " FOR UPDATE" }

    /// ` FOR SHARE` on PostgreSQL: the row stays as read until the transaction ends, and a
    /// writer of it waits (nothing on SQLite, as above).
    public var forShare: String { dialect.name == "sqlite" ? "" : " FOR SHARE" }

    /// ` FOR UPDATE SKIP LOCKED` on PostgreSQL: rows another transaction holds are passed
    /// over, so workers of several instances claim different rows (nothing on SQLite).
    public var forUpdateSkipLocked: String { dialect.name == "sqlite" ? "" : " FOR UPDATE SKIP LOCKED" }
}
