import Foundation
import OrderAPI
import Platform
import SQLKit

/// A requested report as the service keeps it.
struct Report: Sendable, Hashable {
    var id: String
    var status: ReportResource.Status
    /// The first and last day counted, as days since 1970-01-01 (UTC).
    var fromDay: Int64
    var toDay: Int64
    var requestedBy: Int64
    var orders: Int?
    var error: String?
    var attempts: Int
    var createdAt: Date
    var completedAt: Date?
}

/// Reports and their queue in SQL; the worker claims one at a time with a lease, so
/// workers on several instances never build the same report at once, and one that died
/// building it leaves it to the next after the lease.
struct ReportStore: Sendable {
    let database: any Database

    static let attemptsBeforeFailing = 5

    func create(fromDay: Int64, toDay: Int64, by userID: Int64, at now: Date) async throws -> Report {
        let report = Report(
            id: ReportRules.newID(),
            status: .queued,
            fromDay: fromDay,
            toDay: toDay,
            requestedBy: userID,
            orders: nil,
            error: nil,
            attempts: 0,
            createdAt: now,
            completedAt: nil
        )
        try await database.transaction { sql in
            try await sql.raw(
                """
                INSERT INTO reports (id, status, from_day, to_day, requested_by, attempts, lease_until, created_at, updated_at)
                VALUES (\(bind: report.id), 'queued', \(bind: fromDay), \(bind: toDay), \(bind: userID), 0, 0,
                    \(bind: now.microsecondsSince1970), \(bind: now.microsecondsSince1970))
                """
            ).run()
        }
        return report
    }

    func report(id: String) async throws -> Report? {
        try await database.read { sql in
            try await sql.raw("SELECT * FROM reports WHERE id = \(bind: id)").first().map(Self.report(from:))
        }
    }

    /// The oldest report waiting (or abandoned by a worker past its lease), leased to the caller.
    func claimNext(now: Date, until: Date) async throws -> Report? {
        try await database.transaction { sql in
            guard
                let row = try await sql.raw(
                    """
                    SELECT * FROM reports WHERE status IN ('queued', 'running') AND lease_until <= \(bind: now.microsecondsSince1970)
                    ORDER BY created_at LIMIT 1\(unsafeRaw: sql.forUpdateSkipLocked)
                    """
                ).first()
            else { return nil }
            var report = try Self.report(from: row)
            report.attempts += 1
            report.status = .running
            try await sql.raw(
                """
                UPDATE reports SET status = 'running', attempts = \(bind: report.attempts), lease_until = \(bind: until.microsecondsSince1970),
                    updated_at = \(bind: now.microsecondsSince1970) WHERE id = \(bind: report.id)
                """
            ).run()
            return report
        }
    }

    func finish(_ id: String, orders: Int, at now: Date) async throws {
        try await database.transaction { sql in
            try await sql.raw(
                """
                UPDATE reports SET status = 'done', orders = \(bind: orders), error = NULL, completed_at = \(bind: now.microsecondsSince1970),
                    updated_at = \(bind: now.microsecondsSince1970) WHERE id = \(bind: id)
                """
            ).run()
        }
    }

    /// Records a failed attempt: the report waits for another, or fails after the last.
    func failed(_ report: Report, error: String, retryAt: Date, at now: Date) async throws {
        let final = report.attempts >= Self.attemptsBeforeFailing
        try await database.transaction { sql in
            try await sql.raw(
                """
                UPDATE reports SET status = \(bind: final ? "failed" : "queued"), error = \(bind: String(error.prefix(500))),
                    lease_until = \(bind: retryAt.microsecondsSince1970), updated_at = \(bind: now.microsecondsSince1970)
                WHERE id = \(bind: report.id)
                """
            ).run()
        }
    }

    /// Sold orders per day and currency in `[fromDay, toDay]`.
    static func daily(fromDay: Int64, toDay: Int64, in database: any Database) async throws -> [ReportRules.DailyRow] {
        try await database.read { sql in
            try await sql.raw(
                """
                SELECT created_at / \(unsafeRaw: "\(ReportRules.microsPerDay)") AS day, currency, COUNT(*) AS orders,
                    CAST(SUM(item_count) AS BIGINT) AS units, CAST(SUM(total) AS BIGINT) AS gross,
                    CAST(SUM(amount_refunded) AS BIGINT) AS refunded
                FROM orders
                WHERE status IN (\(unsafeRaw: ReportRules.soldStatuses)) AND created_at >= \(bind: fromDay * ReportRules.microsPerDay)
                    AND created_at < \(bind: (toDay + 1) * ReportRules.microsPerDay)
                GROUP BY created_at / \(unsafeRaw: "\(ReportRules.microsPerDay)"), currency
                ORDER BY day, currency
                """
            ).all().map { row in
                ReportRules.DailyRow(
                    day: try row.decode(column: "day", as: Int64.self),
                    currency: try row.decode(column: "currency", as: String.self),
                    orders: try row.decode(column: "orders", as: Int64.self),
                    units: try row.decode(column: "units", as: Int64.self),
                    gross: try row.decode(column: "gross", as: Int64.self),
                    refunded: try row.decode(column: "refunded", as: Int64.self)
                )
            }
        }
    }

    /// The best-selling products by units in `[fromDay, toDay]`, per currency.
    static func topProducts(fromDay: Int64, toDay: Int64, limit: Int = 100, in database: any Database) async throws -> [ReportRules.ProductRow] {
        try await database.read { sql in
            try await sql.raw(
                """
                SELECT l.product_id, MIN(l.sku) AS sku, MIN(l.name) AS name, o.currency,
                    CAST(SUM(l.quantity) AS BIGINT) AS units, CAST(SUM(l.line_total) AS BIGINT) AS revenue
                FROM order_lines l JOIN orders o ON o.id = l.order_id
                WHERE o.status IN (\(unsafeRaw: ReportRules.soldStatuses)) AND o.created_at >= \(bind: fromDay * ReportRules.microsPerDay)
                    AND o.created_at < \(bind: (toDay + 1) * ReportRules.microsPerDay)
                GROUP BY l.product_id, o.currency
                ORDER BY units DESC, revenue DESC, l.product_id
                LIMIT \(bind: limit)
                """
            ).all().map { row in
                ReportRules.ProductRow(
                    productID: try row.decode(column: "product_id", as: Int64.self),
                    sku: try row.decode(column: "sku", as: String.self),
                    name: try row.decode(column: "name", as: String.self),
                    currency: try row.decode(column: "currency", as: String.self),
                    units: try row.decode(column: "units", as: Int64.self),
                    revenue: try row.decode(column: "revenue", as: Int64.self)
                )
            }
        }
    }

    private static func report(from row: any SQLRow) throws -> Report {
        Report(
            id: try row.decode(column: "id", as: String.self),
            status: ReportResource.Status(rawValue: try row.decode(column: "status", as: String.self)) ?? .queued,
            fromDay: try row.decode(column: "from_day", as: Int64.self),
            toDay: try row.decode(column: "to_day", as: Int64.self),
            requestedBy: try row.decode(column: "requested_by", as: Int64.self),
            orders: try row.decode(column: "orders", as: Int?.self),
            error: try row.decode(column: "error", as: String?.self),
            attempts: try row.decode(column: "attempts", as: Int.self),
            createdAt: Date(microsecondsSince1970: try row.decode(column: "created_at", as: Int64.self)),
            completedAt: try row.decode(column: "completed_at", as: Int64?.self).map(Date.init(microsecondsSince1970:))
        )
    }
}
