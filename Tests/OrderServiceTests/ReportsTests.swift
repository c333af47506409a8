import Foundation
import ObjectStorage
import OrderAPI
import Platform
import SQLKit
import TestSupport
import Testing

@testable import OrderService

/// Sales reports over a month of orders on real SQLite and PostgreSQL, built by the worker
/// into a storage folder: daily totals by currency and the best sellers add up to the orders.
@Suite struct ReportsTests {
    @Test(arguments: TestDatabases.kinds())
    func aMonthOfOrdersAddsUpDayByDayAndProductByProduct(_ kind: DatabaseKind) async throws {
        try await TestDatabases.with(kind) { (database: any Database) async throws in
            try await Migrator(OrderService.migrations, logger: TestDatabases.logger).migrate(database)
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("reports-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: folder) }
            let storage = try LocalFolderStorage(root: folder)
            let reports = Reports(
                store: ReportStore(database: database),
                source: database,
                storage: storage,
                logger: TestDatabases.logger,
                now: { Date() }
            )
            // November 2026: on day d, d orders of 2 lamps (1500 EUR each) and one of a mug in
            // USD; every fifth day one more order, cancelled (it must not count); on the 30th a
            // lamp order refunded 500.
            let november = try #require(ReportRules.day("2026-11-01"))
            var expectedLamps: Int64 = 0
            try await database.transaction { sql in
                var number = 0
                func order(
                    day: Int64,
                    status: String,
                    currency: String,
                    product: Int64,
                    quantity: Int,
                    price: Int64,
                    refunded: Int64 = 0
                ) async throws {
                    number += 1
                    let id = String(format: "ord_%024x", number)
                    let at = (november + day) * ReportRules.microsPerDay + Int64(number) * 1_000_000
                    try await sql.raw(
                        """
                        INSERT INTO orders (id, status, step, cart_id, email, locale, currency, subtotal, total, amount_refunded, item_count,
                            shipping_address, lease_until, created_at, updated_at)
                        VALUES (\(bind: id), \(bind: status), 'done', 'cart_x', 'a@example.com', 'en', \(bind: currency),
                            \(bind: price * Int64(quantity)), \(bind: price * Int64(quantity)), \(bind: refunded), \(bind: quantity), '{}', 0,
                            \(bind: at), \(bind: at))
                        """
                    ).run()
                    try await sql.raw(
                        """
                        INSERT INTO order_lines (order_id, position, product_id, sku, name, quantity, unit_price, line_total)
                        VALUES (\(bind: id), 0, \(bind: product), \(bind: "SKU-\(product)"), \(bind: product == 1 ? "Lamp, \"brass\"" : "=Mug"),
                            \(bind: quantity), \(bind: price), \(bind: price * Int64(quantity)))
                        """
                    ).run()
                }
                for day in Int64(0)..<30 {
                    for _ in 0...day {
                        try await order(
                            day: day,
                            status: day == 29 ? "refunded" : "delivered",
                            currency: "EUR",
                            product: 1,
                            quantity: 2,
                            price: 1500,
                            refunded: day == 29 ? 500 : 0
                        )
                    }
                    try await order(day: day, status: "confirmed", currency: "USD", product: 2, quantity: 1, price: 900)
                    if day % 5 == 0 { try await order(day: day, status: "cancelled", currency: "EUR", product: 1, quantity: 7, price: 1500) }
                }
                // The day after the month: outside the report.
                try await order(day: 30, status: "confirmed", currency: "EUR", product: 1, quantity: 1, price: 1500)
            }
            for day in Int64(0)..<30 { expectedLamps += 2 * (day + 1) }

            let report = try await reports.store.create(fromDay: november, toDay: november + 29, by: 1, at: Date())
            #expect(reports.resource(report).status == .queued)
            #expect(reports.resource(report).downloads == nil)
            #expect(try await reports.buildNext())
            #expect(try await !reports.buildNext(), "one report, built once")
            let built = try #require(try await reports.store.report(id: report.id))
            #expect(built.status == .done)
            #expect(built.orders == (1...30).reduce(0, +) + 30)

            let daily = String(decoding: try #require(try await storage.get(key: ReportRules.dailyKey(report.id))), as: UTF8.self)
            let rows = daily.split(separator: "\r\n").map { $0.split(separator: ",").map(String.init) }
            #expect(rows.first == ["date", "currency", "orders", "units", "gross", "refunded", "net"])
            #expect(rows.count == 1 + 60, "a row per day and currency")
            #expect(rows[1] == ["2026-11-01", "EUR", "1", "2", "3000", "0", "3000"])
            #expect(rows[2] == ["2026-11-01", "USD", "1", "1", "900", "0", "900"])
            #expect(rows[59] == ["2026-11-30", "EUR", "30", "60", "90000", "15000", "75000"])
            let products = String(decoding: try #require(try await storage.get(key: ReportRules.productsKey(report.id))), as: UTF8.self)
            let lines = products.split(separator: "\r\n").map(String.init)
            #expect(lines.first == "rank,product_id,sku,name,currency,units,revenue")
            #expect(lines[1] == "1,1,SKU-1,\"Lamp, \"\"brass\"\"\",EUR,\(expectedLamps),\(expectedLamps * 1500)", "quoted as CSV")
            #expect(lines[2] == "2,2,SKU-2,'=Mug,USD,30,27000", "never a formula")
        }
    }

    @Test func datesAreCalendarDatesAndIDsHaveTheirShape() throws {
        #expect(ReportRules.day("2026-02-29") == nil)
        #expect(ReportRules.day("2028-02-29") != nil)
        #expect(ReportRules.day("2026-13-01") == nil)
        #expect(ReportRules.day("26-1-1") == nil)
        #expect(ReportRules.day("1970-01-01") == 0)
        #expect(ReportRules.day("1969-12-31") == -1)
        #expect(ReportRules.day("2000-03-01") == 11_017)
        #expect(ReportRules.day("1582-10-10") != nil, "proleptic Gregorian: no Julian gap")
        #expect(ReportRules.day("1500-02-29") == nil)
        #expect(ReportRules.day("+202-01-01") == nil)
        for day in [Int64(-719_162), -1, 0, 11_017, 20_788, 2_932_896] {
            #expect(ReportRules.day(ReportRules.date(day)) == day)
        }
        #expect(ReportRules.date(try #require(ReportRules.day("2026-11-30"))) == "2026-11-30")
        #expect(ReportRules.isID(ReportRules.newID()))
        #expect(!ReportRules.isID("rep_../../etc/passwd000000000"))
    }
}
