public import SQLKit

/// One list query written once for every list: a filter, an order by a keyset (a sort
/// column, then the id, which makes it total), read page by page (`LIMIT`/`OFFSET` with a
/// total) or by cursor (the keyset of the last row; one row more than a page tells
/// whether there is a next one).
public struct KeysetList<Item: Sendable>: Sendable {
    /// `SELECT <columns> FROM <tables>`, without `WHERE`.
    public var select: String
    /// `SELECT COUNT(*) AS total FROM <tables>`, without `WHERE`.
    public var count: String
    public var filter: SQLQueryString
    /// The ordering columns, most significant first; the last is unique (the id).
    public var keyset: [String]
    public var descending: Bool
    /// The `sort` parameter the list was asked with, kept in its cursors.
    public var sortParameter: String
    public var decode: @Sendable (any SQLRow) throws -> Item
    /// The values of ``keyset`` for an item, for the cursor after it.
    public var cursorValues: @Sendable (Item) -> [Int64]
    /// Where the total of pages is kept between writes, when the caller has such a place
    /// for this filter.
    public var keptTotal: KeptWhileUnwritten<Int>?

    public init(
        select: String,
        count: String,
        filter: SQLQueryString,
        keyset: [String],
        descending: Bool,
        sortParameter: String,
        decode: @escaping @Sendable (any SQLRow) throws -> Item,
        cursorValues: @escaping @Sendable (Item) -> [Int64]
    ) {
        self.select = select
        self.count = count
        self.filter = filter
        self.keyset = keyset
        self.descending = descending
        self.sortParameter = sortParameter
        self.decode = decode
        self.cursorValues = cursorValues
    }

    /// The page `pagination` asks for; `read` runs the queries (in one read, or one the
    /// caller prepares). A cursor this list did not give is a `VALIDATION_ERROR` on `cursor`.
    public func fetch(
        _ pagination: Pagination,
        reading read: (@escaping @Sendable (any SQLDatabase) async throws -> ListPage<Item>) async throws -> ListPage<Item>
    ) async throws -> ListPage<Item> {
        let direction = descending ? "DESC" : "ASC"
        let order = "ORDER BY " + keyset.map { "\($0) \(direction)" }.joined(separator: ", ")
        let (select, count, filter, decode, keptTotal) = (self.select, self.count, self.filter, self.decode, self.keptTotal)
        switch pagination {
        case .page(let number, let perPage):
            return try await read { sql in
                let counted = { try await sql.raw("\(unsafeRaw: count) WHERE \(filter)").first(decodingColumn: "total", as: Int.self) ?? 0 }
                let total = if let keptTotal { try await keptTotal.value(read: counted) } else { try await counted() }
                let rows = try await sql.raw(
                    "\(unsafeRaw: select) WHERE \(filter) \(unsafeRaw: order) LIMIT \(bind: perPage) OFFSET \(bind: (number - 1) * perPage)"
                ).all()
                return .page(items: try rows.map(decode), number: number, perPage: perPage, total: total)
            }
        case .cursor(let cursor, let perPage):
            var condition = filter
            if let cursor {
                let values = cursor.values.compactMap { Int64($0) }
                guard values.count == keyset.count, cursor.values.count == keyset.count else {
                    throw APIError.validation("Is not a cursor this list gave", field: "cursor")
                }
                condition.appendInterpolation(unsafeRaw: " AND (\(keyset.joined(separator: ", "))) \(descending ? "<" : ">") ")
                condition.appendBoundList(values)
            }
            let keyset = condition
            let page = try await read { sql in
                let rows = try await sql.raw("\(unsafeRaw: select) WHERE \(keyset) \(unsafeRaw: order) LIMIT \(bind: perPage + 1)").all()
                return .cursor(items: try rows.map(decode), perPage: perPage, next: nil)
            }
            var items = page.items
            var next: Cursor?
            if items.count > perPage {
                items.removeLast()
                next = Cursor(sort: sortParameter, values: cursorValues(items[items.count - 1]).map(String.init))
            }
            return .cursor(items: items, perPage: perPage, next: next)
        }
    }
}
