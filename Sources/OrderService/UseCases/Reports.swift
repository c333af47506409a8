import Foundation
import Logging
import ObjectStorage
import OrderAPI
import Platform
import ServiceContract

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
        RandomID.make("rep")
    }

    static func isID(_ raw: String) -> Bool {
        RandomID.isValid(raw, prefix: "rep")
    }

    /// `YYYY-MM-DD` as days since 1970-01-01 in the proleptic Gregorian calendar (ISO 8601,
    /// any year from 0001), for real calendar dates only.
    static func day(_ text: String) -> Int64? {
        let bytes = Array(text.utf8)
        guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
            bytes.indices.allSatisfy({ $0 == 4 || $0 == 7 || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[$0]) })
        else { return nil }
        func number(_ range: Range<Int>) -> Int64 { bytes[range].reduce(0) { $0 * 10 + Int64($1 - UInt8(ascii: "0")) } }
        let (year, month, day) = (number(0..<4), number(5..<7), number(8..<10))
        guard year >= 1, (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day) else { return nil }
        // Days from the civil date (Howard Hinnant's algorithm), eras of 400 years.
        let y = month <= 2 ? year - 1 : year
        let era = y / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * ((month + 9) % 12) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// Days since 1970-01-01 as `YYYY-MM-DD` (the inverse of ``day(_:)``).
    static func date(_ days: Int64) -> String {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shifted = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shifted + 2) / 5 + 1
        let month = shifted < 10 ? shifted + 3 : shifted - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return String(format: "%04lld-%02lld-%02lld", year, month, day)
    }

    static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
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
