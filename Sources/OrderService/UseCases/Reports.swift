import Foundation
import Logging
import ObjectStorage
import OrderAPI
import Platform

/// The rules and shapes of sales reports.
enum ReportRules {
    static let microsPerDay: Int64 = 86_400_000_000
    /// Orders that sold something (cancelled ones gave everything back).
    static let soldStatuses = "'confirmed', 'shipped', 'delivered', 'refunded', 'partially_refunded'"
    static let maxDays: Int64 = 366

    struct DailyRow: Sendable, Hashable {
        var day: Int64
        var currency: String
        var orders: Int64
        var units: Int64
        var gross: Int64
        var refunded: Int64
    }

    struct ProductRow: Sendable, Hashable {
        var productID: Int64
        var sku: String
        var name: String
        var currency: String
        var units: Int64
        var revenue: Int64
    }

    /// A report's id: `rep_` and 24 random hex digits.
    static func newID() -> String {
        var generator = SystemRandomNumberGenerator()
        let words = (0..<3).map { _ in String(generator.next() as UInt32, radix: 16) }
        return "rep_" + words.map { String(repeating: "0", count: 8 - $0.count) + $0 }.joined()
    }

    static func isID(_ raw: String) -> Bool {
        raw.utf8.count == 28 && raw.hasPrefix("rep_")
            && raw.utf8.dropFirst(4).allSatisfy {
                (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0)
            }
    }

    /// `YYYY-MM-DD` as days since 1970-01-01, for real calendar dates only.
    static func day(_ text: String) -> Int64? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard text.utf8.count == 10, parts.count == 3, let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
            (1...9999).contains(year), (1...12).contains(month), (1...31).contains(day)
        else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        guard let date = calendar.date(from: DateComponents(year: year, month: month, day: day)),
            calendar.component(.day, from: date) == day
        else { return nil }
        return Int64(date.timeIntervalSince1970 / 86_400)
    }

    /// Days since 1970-01-01 as `YYYY-MM-DD`.
    static func date(_ day: Int64) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day], from: Date(timeIntervalSince1970: TimeInterval(day) * 86_400))
        return String(format: "%04d-%02d-%02d", parts.year ?? 1970, parts.month ?? 1, parts.day ?? 1)
    }

    /// One CSV field: quoted when it must be, and never read as a formula by a spreadsheet.
    static func field(_ text: String) -> String {
        var value = text
        if let first = value.first, "=+-@\t\r".contains(first) { value = "'" + value }
        guard value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    static func dailyCSV(_ rows: [DailyRow]) -> String {
        var csv = "date,currency,orders,units,gross,refunded,net\r\n"
        for row in rows {
            csv +=
                [
                    date(row.day), field(row.currency), "\(row.orders)", "\(row.units)", "\(row.gross)", "\(row.refunded)",
                    "\(row.gross - row.refunded)",
                ]
                .joined(separator: ",") + "\r\n"
        }
        return csv
    }

    static func productsCSV(_ rows: [ProductRow]) -> String {
        var csv = "rank,product_id,sku,name,currency,units,revenue\r\n"
        for (index, row) in rows.enumerated() {
            csv +=
                ["\(index + 1)", "\(row.productID)", field(row.sku), field(row.name), field(row.currency), "\(row.units)", "\(row.revenue)"]
                .joined(separator: ",") + "\r\n"
        }
        return csv
    }

    static func dailyKey(_ id: String) -> String { "reports/\(id)/daily.csv" }
    static func productsKey(_ id: String) -> String { "reports/\(id)/top-products.csv" }
}

/// Builds reports in the background: from the orders database, or its read replica when
/// one is configured, into object storage.
struct Reports: Sendable {
    let store: ReportStore
    /// Where the figures are read: a replica (`ORDERS_READ_DATABASE_URL`) or the primary.
    let source: any Database
    let storage: any ObjectStorage
    let logger: Logger
    let now: @Sendable () -> Date

    /// Builds the next report waiting, if any; `true` when one was built.
    @discardableResult
    func buildNext() async throws -> Bool {
        let started = now()
        guard let report = try await store.claimNext(now: started, until: started.addingTimeInterval(600)) else { return false }
        do {
            let daily = try await ReportStore.daily(fromDay: report.fromDay, toDay: report.toDay, in: source)
            let products = try await ReportStore.topProducts(fromDay: report.fromDay, toDay: report.toDay, in: source)
            try await storage.put(Data(ReportRules.dailyCSV(daily).utf8), key: ReportRules.dailyKey(report.id), contentType: "text/csv")
            try await storage.put(Data(ReportRules.productsCSV(products).utf8), key: ReportRules.productsKey(report.id), contentType: "text/csv")
            let orders = daily.reduce(0) { $0 + Int($1.orders) }
            try await store.finish(report.id, orders: orders, at: now())
            logger.info("report built", metadata: ["report": "\(report.id)", "orders": "\(orders)"])
        } catch {
            // Backs off: 10 s, 20 s, 40 s... until the last attempt fails the report.
            let retry = now().addingTimeInterval(10 * pow(2, Double(report.attempts - 1)))
            try await store.failed(report, error: "\(error)", retryAt: retry, at: now())
            logger.warning("report not built", metadata: ["report": "\(report.id)", "error": "\(error)"])
        }
        return true
    }

    func resource(_ report: Report) -> ReportResource {
        ReportResource(
            id: report.id,
            status: report.status,
            from: ReportRules.date(report.fromDay),
            to: ReportRules.date(report.toDay),
            orders: report.orders,
            downloads: report.status == .done
                ? ReportResource.Downloads(
                    daily: "/api/v1/reports/\(report.id)/daily.csv",
                    topProducts: "/api/v1/reports/\(report.id)/top-products.csv"
                ) : nil,
            error: report.status == .failed || report.status == .queued ? report.error : nil,
            createdAt: report.createdAt,
            completedAt: report.completedAt
        )
    }
}
