import Foundation
import Platform
import TestSupport
import Testing

/// Checkout over real HTTP through the guard, on both engines: a customer's and a guest's
/// orders, a declined card, stock that runs out, a card that asks for 3-D Secure, and what
/// staff do after (ship, deliver, cancel, refund), with stock and payments checked each time.
@Suite struct OrdersEndToEndTests {
    static let address = #"{"name":"Ada Lovelace","line1":"12 St James's Square","city":"London","postal_code":"SW1Y 4JH","country":"GB"}"#

    static func checkout(card: String, email: String? = nil) -> String {
        let mail = email.map { #""email":"\#($0)","# } ?? ""
        return #"{\#(mail)"shipping_address":\#(address),"payment_method":{"token":"\#(card)"}}"#
    }

    static func product(_ admin: RunningShop, _ sku: String, price: Int, stock: Int) async throws -> Int64 {
        let created = try await admin.request(
            .POST,
            "/api/v1/products",
            json: #"{"sku":"\#(sku)","name":"\#(sku) name","price":{"amount":\#(price),"currency":"EUR"},"status":"active"}"#
        )
        let id = try #require(created.json?["data"]?["id"]?.integer)
        if stock > 0 {
            let adjusted = try await admin.request(
                .POST,
                "/api/v1/products/\(id)/inventory/adjustments",
                json: #"{"change":\#(stock),"reason":"delivery"}"#
            )
            #expect(adjusted.status == 200 || adjusted.status == 201)
        }
        return id
    }

    /// What the product page shows as available now (live, never cached).
    static func available(_ admin: RunningShop, _ product: Int64) async throws -> Int64? {
        try await admin.request(.GET, "/api/v1/products/\(product)").json?["data"]?["available"]?.integer
    }

    static func payment(_ admin: RunningShop, order: String) async throws -> JSONValue? {
        try await admin.request(.GET, "/api/v1/payments?order_id=\(order)").json?["data"]?.array?.first
    }

    @Test(arguments: TestDatabases.kinds())
    func aCustomerChecksOutOnceAndStaffShipAndDeliver(_ engine: DatabaseKind) async throws {
        try await TestServer.withEveryDatabase(on: engine) { admin in
            let kettle = try await Self.product(admin, "kettle-o", price: 3900, stock: 5)
            let (customerID, customer) = try await admin.customer("buyer@example.com")
            #expect(try await customer.request(.PUT, "/api/v1/cart/lines/\(kettle)", json: #"{"quantity":2}"#).status == 200)

            let unkeyed = try await customer.request(.POST, "/api/v1/orders", json: Self.checkout(card: "pm_card_visa"))
            #expect(unkeyed.status == 422)
            #expect(unkeyed.json?["error"]?["field"]?.string == "Idempotency-Key")
            let key = [("Idempotency-Key", "order-1")]
            let placed = try await customer.request(.POST, "/api/v1/orders", headers: key, json: Self.checkout(card: "pm_card_visa"))
            #expect(placed.status == 201, "\(String(decoding: placed.body, as: UTF8.self))")
            let order = try #require(placed.json?["data"])
            let id = try #require(order["id"]?.string)
            #expect(order["status"]?.string == "confirmed")
            #expect(order["customer_id"]?.integer == customerID)
            #expect(order["email"]?.string == "buyer@example.com", "a customer's account address by default")
            #expect(order["total"]?["amount"]?.integer == 7800)
            #expect(order["lines"]?.array?.first?["unit_price"]?["amount"]?.integer == 3900)
            #expect(order["lines"]?.array?.first?["sku"]?.string == "KETTLE-O")
            #expect(order["history"]?.array?.compactMap { $0["to"]?.string } == ["pending", "confirmed"])
            #expect(placed.header("Location") == "/api/v1/orders/\(id)")

            // A retry with the key is the same order, not a second charge.
            let replay = try await customer.request(.POST, "/api/v1/orders", headers: key, json: Self.checkout(card: "pm_card_visa"))
            #expect(replay.body == placed.body)
            #expect(replay.header("Idempotent-Replayed") == "true")
            #expect(try await Self.available(admin, kettle) == 3)
            let payment = try #require(try await Self.payment(admin, order: id))
            #expect(payment["status"]?.string == "succeeded")
            #expect(payment["amount_captured"]?.integer == 7800)
            // The cart was sold: the customer's next cart is a new, empty one.
            #expect(try await customer.request(.GET, "/api/v1/cart").json?["data"]?["lines"]?.array?.isEmpty == true)
            let again = try await customer.request(
                .POST,
                "/api/v1/orders",
                headers: [("Idempotency-Key", "order-2")],
                json: Self.checkout(card: "pm_card_visa")
            )
            #expect(again.status == 409, "an empty cart")

            // Readers: the customer their own, others nothing, staff everything.
            #expect(try await customer.request(.GET, "/api/v1/orders/\(id)").status == 200)
            let (_, stranger) = try await admin.customer("stranger@example.com")
            #expect(try await stranger.request(.GET, "/api/v1/orders/\(id)").status == 404)
            #expect(try await stranger.request(.GET, "/api/v1/orders").json?["data"]?.array?.isEmpty == true)
            #expect(try await admin.anonymous.request(.GET, "/api/v1/orders/\(id)").status == 401)
            #expect(try await customer.request(.GET, "/api/v1/orders").json?["data"]?.array?.count == 1)
            #expect(try await admin.request(.GET, "/api/v1/orders?status=confirmed").json?["data"]?.array?.count == 1)
            #expect(try await admin.request(.GET, "/api/v1/orders?status=shipped").json?["data"]?.array?.isEmpty == true)
            #expect(try await admin.request(.GET, "/api/v1/orders?created_from=2999-01-01T00:00:00Z").json?["data"]?.array?.isEmpty == true)
            #expect(try await admin.request(.GET, "/api/v1/orders?status=lost").status == 422)

            // Staff ship and deliver; what is illegal names where the order stands.
            #expect(try await customer.request(.POST, "/api/v1/orders/\(id)/ship", json: #"{"tracking_number":"1Z999"}"#).status == 403)
            // Text that no database stores, or that breaks a line, is refused (PostgreSQL cannot hold U+0000).
            #expect(try await admin.request(.POST, "/api/v1/orders/\(id)/ship", json: #"{"tracking_number":"1Z\u0000"}"#).status == 422)
            #expect(try await admin.request(.POST, "/api/v1/orders/\(id)/ship", json: #"{"tracking_number":"1Z\n2"}"#).status == 422)
            let shipped = try await admin.request(.POST, "/api/v1/orders/\(id)/ship", json: #"{"tracking_number":"1Z999","carrier":"UPS"}"#)
            #expect(shipped.json?["data"]?["status"]?.string == "shipped")
            #expect(shipped.json?["data"]?["tracking_number"]?.string == "1Z999")
            let twice = try await admin.request(.POST, "/api/v1/orders/\(id)/ship", json: #"{"tracking_number":"1Z999"}"#)
            #expect(twice.status == 409)
            #expect(twice.json?["error"]?["message"]?.string?.contains("shipped") == true)
            let late = try await customer.request(.POST, "/api/v1/orders/\(id)/cancel")
            #expect(late.status == 409, "a shipped order is not cancelled")
            let delivered = try await admin.request(.POST, "/api/v1/orders/\(id)/deliver")
            #expect(delivered.json?["data"]?["status"]?.string == "delivered")
            let history = delivered.json?["data"]?["history"]?.array ?? []
            #expect(history.compactMap { $0["to"]?.string } == ["pending", "confirmed", "shipped", "delivered"])
            #expect(history.last?["actor_id"]?.integer != nil)
            #expect(history.last?["request_id"]?.string != nil)
        }
    }

    /// Retries of a checkout: the key lives on the order it placed, so a retry is that order
    /// as it stands now (shipped since, here), marked replayed, never a second sale; another
    /// body under the key is refused. Checkout keeps no stored answer of its own. A request
    /// refused before it placed an order kept nothing: its key still places one. Two guests
    /// behind one address who choose the same key and body never see each other's order.
    @Test func retriesFindTheirOrderAndOnlyTheirs() async throws {
        try await TestServer.with { admin in
            let kettle = try await Self.product(admin, "kettle-r", price: 3900, stock: 9)
            let (_, customer) = try await admin.customer("retry@example.com")
            let early = [("Idempotency-Key", "retry-early")]
            let refused = try await customer.request(.POST, "/api/v1/orders", headers: early, json: Self.checkout(card: "pm_card_visa"))
            #expect(refused.status == 409, "an empty cart: \(String(decoding: refused.body, as: UTF8.self))")
            #expect(try await customer.request(.PUT, "/api/v1/cart/lines/\(kettle)", json: #"{"quantity":2}"#).status == 200)
            let key = [("Idempotency-Key", "retry-1")]
            let body = Self.checkout(card: "pm_card_visa")
            let placed = try await customer.request(.POST, "/api/v1/orders", headers: key, json: body)
            #expect(placed.status == 201)
            #expect(placed.header("Idempotent-Replayed") == nil)
            let id = try #require(placed.json?["data"]?["id"]?.string)

            let retried = try await customer.request(.POST, "/api/v1/orders", headers: key, json: body)
            #expect(retried.status == 201, "\(String(decoding: retried.body, as: UTF8.self))")
            #expect(retried.body == placed.body, "nothing changed since: the same answer")
            #expect(retried.header("Idempotent-Replayed") == "true")
            #expect(try await admin.request(.POST, "/api/v1/orders/\(id)/ship", json: #"{"tracking_number":"1Z1"}"#).status == 200)
            let later = try await customer.request(.POST, "/api/v1/orders", headers: key, json: body)
            #expect(later.json?["data"]?["id"]?.string == id)
            #expect(later.json?["data"]?["status"]?.string == "shipped", "the order as it stands, not the first answer")
            #expect(later.header("Idempotent-Replayed") == "true")
            let other = try await customer.request(.POST, "/api/v1/orders", headers: key, json: Self.checkout(card: "pm_card_mastercard"))
            #expect(other.status == 409)
            #expect(other.json?["error"]?["field"]?.string == "Idempotency-Key")
            #expect(try await customer.request(.GET, "/api/v1/orders").json?["meta"]?["total"]?.integer == 1)
            #expect(try await Self.available(admin, kettle) == 7, "sold once")

            // The key refused with an empty cart places the order of a cart that has lines now.
            #expect(try await customer.request(.PUT, "/api/v1/cart/lines/\(kettle)", json: #"{"quantity":1}"#).status == 200)
            let second = try await customer.request(.POST, "/api/v1/orders", headers: early, json: Self.checkout(card: "pm_card_visa"))
            #expect(second.status == 201, "\(String(decoding: second.body, as: UTF8.self))")
            #expect(second.header("Idempotent-Replayed") == nil)
            #expect(try await Self.available(admin, kettle) == 6)

            let directory = try #require(admin.dataDirectory)
            let orders = try await SQLiteDatabase.open(path: directory + "/orders.sqlite", readers: 1, logger: TestDatabases.logger)
            let stored = try await orders.read { sql in
                try await sql.raw("SELECT COUNT(*) AS n FROM idempotency_keys WHERE scope LIKE '% POST /api/v1/orders'").first(
                    decodingColumn: "n",
                    as: Int.self
                )
            }
            #expect(stored == 0, "checkout keeps its key on the order only")
            try await orders.close()

            // Two guests, one address, the same key and body.
            var guests: [(token: String, order: String)] = []
            for _ in 0..<2 {
                let made = try await admin.anonymous.request(.POST, "/api/v1/carts")
                let token = try #require(made.json?["data"]?["cart_token"]?.string)
                let cart = [("X-Cart-Token", token)]
                #expect(
                    try await admin.anonymous.request(.PUT, "/api/v1/cart/lines/\(kettle)", headers: cart, json: #"{"quantity":1}"#).status == 200
                )
                let order = try await admin.anonymous.request(
                    .POST,
                    "/api/v1/orders",
                    headers: cart + [("Idempotency-Key", "guest-order")],
                    json: Self.checkout(card: "pm_card_visa", email: "guest@example.com")
                )
                #expect(order.status == 201, "\(String(decoding: order.body, as: UTF8.self))")
                #expect(order.header("Idempotent-Replayed") == nil)
                guests.append((token, try #require(order.json?["data"]?["id"]?.string)))
            }
            #expect(guests[0].order != guests[1].order, "each guest placed their own order")
            #expect(try await Self.available(admin, kettle) == 4, "two more sold, one to each guest")
        }
    }

    /// The same checkout sent many times at once (a client retrying while its first attempt
    /// runs): one order, one charge, the stock taken once; every answer is that order, as
    /// far as it had got (201 confirmed, or 202 while the first attempt was still charging).
    @Test(arguments: TestDatabases.kinds())
    func concurrentRetriesOfOneCheckoutPlaceOneOrder(_ engine: DatabaseKind) async throws {
        try await TestServer.withEveryDatabase(on: engine) { admin in
            let kettle = try await Self.product(admin, "kettle-c", price: 3900, stock: 5)
            let (_, customer) = try await admin.customer("racer@example.com")
            #expect(try await customer.request(.PUT, "/api/v1/cart/lines/\(kettle)", json: #"{"quantity":2}"#).status == 200)
            let body = Self.checkout(card: "pm_card_visa")
            let answers = try await withThrowingTaskGroup(of: (Int, String?, String?).self) { group in
                for _ in 0..<12 {
                    group.addTask {
                        let answer = try await customer.request(.POST, "/api/v1/orders", headers: [("Idempotency-Key", "race-1")], json: body)
                        return (answer.status, answer.json?["data"]?["id"]?.string, answer.header("Idempotent-Replayed"))
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(answers.allSatisfy { $0.0 == 201 || $0.0 == 202 }, "\(answers)")
            #expect(Set(answers.compactMap(\.1)).count == 1, "one order: \(answers)")
            #expect(answers.compactMap(\.1).count == 12)
            #expect(answers.filter { $0.2 == nil }.count == 1, "one placed it, the others were answered it")
            let id = try #require(answers.first?.1)
            #expect(try await customer.request(.GET, "/api/v1/orders").json?["meta"]?["total"]?.integer == 1)
            let payments = try await admin.request(.GET, "/api/v1/payments?order_id=\(id)").json?["data"]?.array ?? []
            #expect(payments.count == 1)
            #expect(payments.first?["amount_captured"]?.integer == 7800, "charged once")
            #expect(try await Self.available(admin, kettle) == 3, "the stock taken once")
        }
    }

    @Test(arguments: TestDatabases.kinds())
    func aDeclineAndAShortageChargeNothingAndGiveTheStockBack(_ engine: DatabaseKind) async throws {
        try await TestServer.withEveryDatabase(on: engine) { admin in
            let lamp = try await Self.product(admin, "lamp-o", price: 2500, stock: 2)
            let made = try await admin.anonymous.request(.POST, "/api/v1/carts")
            let token = try #require(made.json?["data"]?["cart_token"]?.string)
            let guest = admin.anonymous
            let cart = [("X-Cart-Token", token)]
            #expect(try await guest.request(.PUT, "/api/v1/cart/lines/\(lamp)", headers: cart, json: #"{"quantity":2}"#).status == 200)

            let noEmail = try await guest.request(
                .POST,
                "/api/v1/orders",
                headers: cart + [("Idempotency-Key", "g-0")],
                json: Self.checkout(card: "pm_card_visa")
            )
            #expect(noEmail.status == 422)
            #expect(noEmail.json?["error"]?["field"]?.string == "email")

            let declined = try await guest.request(
                .POST,
                "/api/v1/orders",
                headers: cart + [("Idempotency-Key", "g-1")],
                json: Self.checkout(card: "pm_card_chargeDeclined", email: "guest@example.com")
            )
            #expect(declined.status == 402)
            #expect(declined.json?["error"]?["code"]?.string == "PAYMENT_DECLINED")
            #expect(declined.json?["error"]?["decline_code"]?.string == "card_declined")
            #expect(try await Self.available(admin, lamp) == 2, "the reservation went back")
            let failed = try #require(try await admin.request(.GET, "/api/v1/orders?status=payment_failed").json?["data"]?.array?.first)
            #expect(failed["payment_failure"]?["code"]?.string == "card_declined")
            #expect(failed["email"]?.string == "guest@example.com")

            // The cart opens again, and another card pays.
            let paid = try await guest.request(
                .POST,
                "/api/v1/orders",
                headers: cart + [("Idempotency-Key", "g-2")],
                json: Self.checkout(card: "pm_card_visa", email: "guest@example.com")
            )
            #expect(paid.status == 201, "\(String(decoding: paid.body, as: UTF8.self))")
            let id = try #require(paid.json?["data"]?["id"]?.string)
            #expect(try await Self.available(admin, lamp) == 0)
            // The guest reads the order with the token of the cart it came from, nobody else does.
            #expect(try await guest.request(.GET, "/api/v1/orders/\(id)", headers: cart).status == 200)
            #expect(try await guest.request(.GET, "/api/v1/orders/\(id)").status == 401)

            // Out of stock: the order is cancelled with its short line, nothing is charged.
            let (_, late) = try await admin.customer("late@example.com")
            #expect(try await late.request(.PUT, "/api/v1/cart/lines/\(lamp)", json: #"{"quantity":1}"#).status == 200)
            let short = try await late.request(
                .POST,
                "/api/v1/orders",
                headers: [("Idempotency-Key", "l-1")],
                json: Self.checkout(card: "pm_card_visa")
            )
            #expect(short.status == 409)
            #expect(short.json?["error"]?["code"]?.string == "OUT_OF_STOCK")
            let cancelled = try #require(try await late.request(.GET, "/api/v1/orders").json?["data"]?.array?.first)
            #expect(cancelled["status"]?.string == "cancelled")
            #expect(cancelled["short_lines"]?.array?.first?["product_id"]?.integer == lamp)
            #expect(cancelled["short_lines"]?.array?.first?["available"]?.integer == 0)
            #expect(try await Self.payment(admin, order: try #require(cancelled["id"]?.string)) == nil, "nothing charged")
        }
    }

    @Test(arguments: TestDatabases.kinds())
    func cancellingAPaidOrderRefundsItAndReturnsTheStockAndRefundsAddUp(_ engine: DatabaseKind) async throws {
        try await TestServer.withEveryDatabase(on: engine) { admin in
            let chair = try await Self.product(admin, "chair-o", price: 10000, stock: 3)
            let (_, customer) = try await admin.customer("sitter@example.com")
            func buy(_ key: String) async throws -> String {
                #expect(try await customer.request(.PUT, "/api/v1/cart/lines/\(chair)", json: #"{"quantity":1}"#).status == 200)
                let placed = try await customer.request(
                    .POST,
                    "/api/v1/orders",
                    headers: [("Idempotency-Key", key)],
                    json: Self.checkout(card: "pm_card_visa")
                )
                #expect(placed.status == 201)
                return try #require(placed.json?["data"]?["id"]?.string)
            }
            let first = try await buy("c-1")
            #expect(try await Self.available(admin, chair) == 2)
            #expect(try await customer.request(.POST, "/api/v1/orders/\(first)/cancel", json: #"{"reason":"x\u0000y"}"#).status == 422)
            let cancelled = try await customer.request(.POST, "/api/v1/orders/\(first)/cancel", json: #"{"reason":"changed my mind"}"#)
            #expect(cancelled.status == 200)
            #expect(cancelled.json?["data"]?["status"]?.string == "cancelled")
            #expect(cancelled.json?["data"]?["amount_refunded"]?["amount"]?.integer == 10000)
            #expect(try await Self.available(admin, chair) == 3, "the stock came back")
            #expect(try await Self.payment(admin, order: first)?["amount_refunded"]?.integer == 10000)
            #expect(try await customer.request(.POST, "/api/v1/orders/\(first)/cancel").status == 409)

            // Staff refund part, then the rest; never more than was paid. Before delivery a
            // partial refund leaves the order to be shipped; after, it is partially refunded.
            let second = try await buy("c-2")
            let refunds = "/api/v1/orders/\(second)/refunds"
            #expect(try await admin.request(.POST, refunds, json: #"{"amount":3000,"reason":"scratched"}"#).status == 422, "a key is required")
            let part = try await admin.request(.POST, refunds, headers: [("Idempotency-Key", "r-1")], json: #"{"amount":3000,"reason":"scratched"}"#)
            #expect(part.json?["data"]?["status"]?.string == "confirmed", "\(String(decoding: part.body, as: UTF8.self))")
            #expect(part.json?["data"]?["amount_refunded"]?["amount"]?.integer == 3000)
            #expect(part.json?["data"]?["history"]?.array?.last?["reason"]?.string == "scratched")
            let replayed = try await admin.request(
                .POST,
                refunds,
                headers: [("Idempotency-Key", "r-1")],
                json: #"{"amount":3000,"reason":"scratched"}"#
            )
            #expect(replayed.json?["data"]?["amount_refunded"]?["amount"]?.integer == 3000)
            #expect(try await admin.request(.POST, "/api/v1/orders/\(second)/ship", json: #"{"tracking_number":"T-2"}"#).status == 200)
            #expect(try await admin.request(.POST, "/api/v1/orders/\(second)/deliver").status == 200)
            let tooMuch = try await admin.request(.POST, refunds, headers: [("Idempotency-Key", "r-2")], json: #"{"amount":7001,"reason":"more"}"#)
            #expect(tooMuch.status == 409)
            let more = try await admin.request(.POST, refunds, headers: [("Idempotency-Key", "r-3")], json: #"{"amount":2000,"reason":"late"}"#)
            #expect(more.json?["data"]?["status"]?.string == "partially_refunded")
            let rest = try await admin.request(.POST, refunds, headers: [("Idempotency-Key", "r-4")], json: #"{"reason":"returned"}"#)
            #expect(rest.json?["data"]?["status"]?.string == "refunded")
            #expect(rest.json?["data"]?["amount_refunded"]?["amount"]?.integer == 10000)
            #expect(try await Self.payment(admin, order: second)?["amount_refunded"]?.integer == 10000)
            #expect(try await customer.request(.POST, refunds, headers: [("Idempotency-Key", "r-5")], json: #"{"reason":"x"}"#).status == 403)
        }
    }

    @Test func aCardThatAsksForThreeDSecureIsConfirmedWhenItSettles() async throws {
        try await TestServer.with(environment: ["TEST_NETWORK_ACTION_DELAY_MS": "300"]) { admin in
            let desk = try await Self.product(admin, "desk-o", price: 20000, stock: 1)
            let (_, customer) = try await admin.customer("secure@example.com")
            #expect(try await customer.request(.PUT, "/api/v1/cart/lines/\(desk)", json: #"{"quantity":1}"#).status == 200)
            let placed = try await customer.request(
                .POST,
                "/api/v1/orders",
                headers: [("Idempotency-Key", "3ds")],
                json: Self.checkout(card: "pm_card_threeDSecureRequired")
            )
            #expect(placed.status == 202)
            #expect(placed.json?["data"]?["status"]?.string == "pending")
            #expect(placed.json?["data"]?["next_action_url"]?.string != nil)
            let id = try #require(placed.json?["data"]?["id"]?.string)
            #expect(try await Self.available(admin, desk) == 0, "held while the customer acts")
            var status: String?
            for _ in 0..<100 {
                status = try await customer.request(.GET, "/api/v1/orders/\(id)").json?["data"]?["status"]?.string
                if status != "pending" { break }
                try await Task.sleep(for: .milliseconds(200))
            }
            #expect(status == "confirmed")
            #expect(try await Self.available(admin, desk) == 0)
        }
    }

    /// The whole path never oversells: 200 guests check out the last 50 units at once.
    @Test(arguments: TestDatabases.kinds())
    func twoHundredConcurrentCheckoutsOfFiftyUnitsSellExactlyFifty(_ engine: DatabaseKind) async throws {
        try await TestServer.withEveryDatabase(on: engine) { admin in
            try await OrdersProcessTests.sellTheLastFifty(shop: admin, catalog: admin, payments: admin, ownEmail: TestServer.adminEmail)
        }
    }

    /// Staff ask for a sales report, follow it while the worker builds it, and download it.
    @Test func staffAskForASalesReportAndDownloadItsFiles() async throws {
        try await TestServer.with { admin in
            let vase = try await Self.product(admin, "vase-r", price: 1250, stock: 10)
            let (_, customer) = try await admin.customer("reader@example.com")
            #expect(try await customer.request(.PUT, "/api/v1/cart/lines/\(vase)", json: #"{"quantity":3}"#).status == 200)
            #expect(
                try await customer.request(.POST, "/api/v1/orders", headers: [("Idempotency-Key", "r")], json: Self.checkout(card: "pm_card_visa"))
                    .status == 201
            )
            let today = String(ISO8601DateFormatter().string(from: Date()).prefix(10))
            #expect(try await customer.request(.POST, "/api/v1/reports", json: #"{"from":"\#(today)","to":"\#(today)"}"#).status == 403)
            #expect(try await admin.request(.POST, "/api/v1/reports", json: #"{"from":"2026-02-30","to":"\#(today)"}"#).status == 422)
            #expect(
                try await admin.request(.POST, "/api/v1/reports", json: #"{"from":"2024-01-01","to":"2026-01-01"}"#).status == 422,
                "at most 366 days"
            )
            let asked = try await admin.request(.POST, "/api/v1/reports", json: #"{"from":"\#(today)","to":"\#(today)"}"#)
            #expect(asked.status == 202)
            let id = try #require(asked.json?["data"]?["id"]?.string)
            #expect(asked.header("Location") == "/api/v1/reports/\(id)")
            var report: JSONValue?
            for _ in 0..<100 {
                report = try await admin.request(.GET, "/api/v1/reports/\(id)").json?["data"]
                if report?["status"]?.string == "done" { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(report?["status"]?.string == "done")
            #expect(report?["orders"]?.integer == 1)
            let daily = try await admin.request(.GET, try #require(report?["downloads"]?["daily"]?.string))
            #expect(daily.status == 200)
            #expect(daily.header("Content-Type") == "text/csv; charset=utf-8")
            #expect(String(decoding: daily.body, as: UTF8.self).contains("\(today),EUR,1,3,3750,0,3750"))
            let top = try await admin.request(.GET, try #require(report?["downloads"]?["top_products"]?.string))
            #expect(String(decoding: top.body, as: UTF8.self).contains("1,\(vase),VASE-R,vase-r name,EUR,3,3750"))
            #expect(try await customer.request(.GET, "/api/v1/reports/\(id)/daily.csv").status == 403)
            #expect(try await admin.request(.GET, "/api/v1/reports/rep_000000000000000000000000").status == 404)
        }
    }
}
