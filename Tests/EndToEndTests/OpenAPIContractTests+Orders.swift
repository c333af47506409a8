import Foundation
import NIOHTTP1
import Testing

extension OpenAPIContractTests {
    /// One documented call: who makes it (the admin when `nil`), the method, the path, an
    /// optional JSON body and headers; it checks the answer and notes what it exercised.
    typealias ContractCall = (RunningShop?, NIOHTTP1.HTTPMethod, String, String?, [(String, String)]) async throws -> HTTPResult

    /// `/api/v1/orders`: checkout (a customer's, a guest's, confirmed, pending on 3-D Secure,
    /// declined, short of stock, refused), the reads, and what follows (cancel, ship,
    /// deliver, refunds), each documented answer at least once.
    func exerciseOrders(_ admin: RunningShop, staff: RunningShop, oversize: String, call: ContractCall) async throws {
        func check(
            as shop: RunningShop? = nil,
            _ method: NIOHTTP1.HTTPMethod,
            _ path: String,
            json: String? = nil,
            headers: [(String, String)] = []
        ) async throws -> HTTPResult {
            try await call(shop, method, path, json, headers)
        }
        func key(_ value: String) -> [(String, String)] { [("Idempotency-Key", value)] }
        let anonymous = admin.anonymous
        let kettle = try await OrdersEndToEndTests.product(admin, "contract-kettle", price: 2500, stock: 10)
        let last = try await OrdersEndToEndTests.product(admin, "contract-last", price: 900, stock: 1)
        let visa = OrdersEndToEndTests.checkout(card: "pm_card_visa")
        let (buyerID, buyer) = try await admin.customer("buyer@contract.example.com")
        let (_, stranger) = try await admin.customer("stranger@contract.example.com")
        let (_, secure) = try await admin.customer("secure@contract.example.com")
        func fill(_ shop: RunningShop, _ product: Int64, _ quantity: Int, headers: [(String, String)] = []) async throws {
            let line = try await shop.request(.PUT, "/api/v1/cart/lines/\(product)", headers: headers, json: #"{"quantity":\#(quantity)}"#)
            #expect(line.status == 200)
        }

        // Checkout by a customer: confirmed, replayed, refused.
        try await fill(buyer, kettle, 2)
        _ = try await check(as: buyer, .POST, "/api/v1/orders", json: visa)
        let placed = try await check(as: buyer, .POST, "/api/v1/orders", json: visa, headers: key("contract-order-a"))
        #expect(placed.status == 201)
        let paid = try #require(placed.json?["data"]?["id"]?.string)
        let replay = try await check(as: buyer, .POST, "/api/v1/orders", json: visa, headers: key("contract-order-a"))
        #expect(replay.header("Idempotent-Replayed") == "true")
        let german = #"{"locale":"de","shipping_address":\#(OrdersEndToEndTests.address),"payment_method":{"token":"pm_card_visa"}}"#
        _ = try await check(as: buyer, .POST, "/api/v1/orders", json: german, headers: key("contract-order-a"))
        let empty = try await check(as: buyer, .POST, "/api/v1/orders", json: visa, headers: key("contract-order-empty"))
        #expect(empty.json?["error"]?["code"]?.string == "CONFLICT")
        _ = try await check(as: buyer, .POST, "/api/v1/orders", json: "{", headers: key("contract-order-malformed"))
        _ = try await check(as: buyer, .POST, "/api/v1/orders", json: oversize, headers: key("contract-order-oversize"))
        _ = try await check(
            as: buyer,
            .POST,
            "/api/v1/orders",
            json: #"{"shipping_address":{"country":"Germany"},"locale":"EN","payment_method":{}}"#,
            headers: key("contract-order-invalid")
        )
        try await fill(buyer, kettle, 1)
        let second = try await check(as: buyer, .POST, "/api/v1/orders", json: visa, headers: key("contract-order-b"))
        let cancellable = try #require(second.json?["data"]?["id"]?.string)
        try await fill(secure, kettle, 1)
        let pending = try await check(
            as: secure,
            .POST,
            "/api/v1/orders",
            json: OrdersEndToEndTests.checkout(card: "pm_card_threeDSecureRequired"),
            headers: key("contract-order-3ds")
        )
        #expect(pending.status == 202)

        // Checkout by guests: declined, then paid; short of stock; without a usable cart.
        let made = try await anonymous.request(.POST, "/api/v1/carts")
        let guestCart = [("X-Cart-Token", try #require(made.json?["data"]?["cart_token"]?.string))]
        try await fill(anonymous, kettle, 1, headers: guestCart)
        _ = try await check(as: anonymous, .POST, "/api/v1/orders", json: visa, headers: guestCart + key("contract-guest-0"))
        let declined = try await check(
            as: anonymous,
            .POST,
            "/api/v1/orders",
            json: OrdersEndToEndTests.checkout(card: "pm_card_chargeDeclined", email: "guest@contract.example.com"),
            headers: guestCart + key("contract-guest-1")
        )
        #expect(declined.json?["error"]?["decline_code"]?.string == "card_declined")
        let guestPaid = try await check(
            as: anonymous,
            .POST,
            "/api/v1/orders",
            json: OrdersEndToEndTests.checkout(card: "pm_card_visa", email: "guest@contract.example.com"),
            headers: guestCart + key("contract-guest-2")
        )
        let guestOrder = try #require(guestPaid.json?["data"]?["id"]?.string)
        let shortCart = try await anonymous.request(.POST, "/api/v1/carts")
        let shortToken = [("X-Cart-Token", try #require(shortCart.json?["data"]?["cart_token"]?.string))]
        try await fill(anonymous, last, 2, headers: shortToken)
        let short = try await check(
            as: anonymous,
            .POST,
            "/api/v1/orders",
            json: OrdersEndToEndTests.checkout(card: "pm_card_visa", email: "short@contract.example.com"),
            headers: shortToken + key("contract-short")
        )
        #expect(short.json?["error"]?["code"]?.string == "OUT_OF_STOCK")
        let guestBody = OrdersEndToEndTests.checkout(card: "pm_card_visa", email: "nobody@contract.example.com")
        _ = try await check(as: anonymous, .POST, "/api/v1/orders", json: guestBody, headers: key("contract-no-cart"))
        _ = try await check(
            as: anonymous,
            .POST,
            "/api/v1/orders",
            json: guestBody,
            headers: [("X-Cart-Token", "cart_000000000000000000000000.nope-nope-nope-nope-nope")] + key("contract-unknown-cart")
        )

        // Reads: staff every order, a customer their own, a guest theirs by the cart token.
        let missing = "/api/v1/orders/ord_000000000000000000000000"
        _ = try await check(.GET, "/api/v1/orders")
        _ = try await check(.GET, "/api/v1/orders?status=confirmed&per_page=1&page=2&sort=created_at")
        _ = try await check(.GET, "/api/v1/orders?cursor=&per_page=1")
        _ = try await check(
            as: staff,
            .GET,
            "/api/v1/orders?customer_id=\(buyerID)&created_from=2026-01-01T00:00:00Z&created_before=2999-01-01T00:00:00Z"
        )
        let own = try await check(as: buyer, .GET, "/api/v1/orders?customer_id=1")
        #expect(own.json?["data"]?.array?.count == 2)
        #expect(own.json?["data"]?.array?.allSatisfy { $0["history"]?.array?.isEmpty == true } == true)
        _ = try await check(.GET, "/api/v1/orders?status=lost&created_from=yesterday")
        _ = try await check(as: anonymous, .GET, "/api/v1/orders")
        _ = try await check(as: buyer, .GET, "/api/v1/orders/\(paid)")
        _ = try await check(as: anonymous, .GET, "/api/v1/orders/\(guestOrder)", headers: guestCart)
        _ = try await check(as: anonymous, .GET, "/api/v1/orders/\(guestOrder)")
        _ = try await check(as: stranger, .GET, "/api/v1/orders/\(paid)")
        _ = try await check(.GET, missing)
        _ = try await check(.GET, "/api/v1/orders/x")
        _ = try await check(as: anonymous, .GET, "/api/v1/orders/\(guestOrder)", headers: [("X-Cart-Token", String(repeating: "t", count: 129))])

        // Cancel: the customer's own confirmed order, once.
        let cancel = "/api/v1/orders/\(cancellable)/cancel"
        _ = try await check(as: anonymous, .POST, cancel)
        _ = try await check(as: stranger, .POST, cancel)
        _ = try await check(as: buyer, .POST, cancel, json: "{")
        _ = try await check(as: buyer, .POST, cancel, json: oversize)
        _ = try await check(as: buyer, .POST, cancel, json: #"{"reason":"   "}"#)
        let cancelled = try await check(as: buyer, .POST, cancel, json: #"{"reason":"changed my mind"}"#, headers: key("contract-cancel"))
        #expect(cancelled.json?["data"]?["status"]?.string == "cancelled")
        let again = try await check(as: buyer, .POST, cancel, json: #"{"reason":"changed my mind"}"#, headers: key("contract-cancel"))
        #expect(again.header("Idempotent-Replayed") == "true")
        _ = try await check(as: buyer, .POST, cancel)

        // Ship and deliver: staff, in order.
        let ship = "/api/v1/orders/\(paid)/ship"
        let tracking = #"{"tracking_number":"1Z999","carrier":"UPS"}"#
        _ = try await check(as: buyer, .POST, ship, json: tracking)
        _ = try await check(as: anonymous, .POST, ship, json: tracking)
        _ = try await check(.POST, missing + "/ship", json: tracking)
        _ = try await check(.POST, ship, json: "{")
        _ = try await check(.POST, ship, json: oversize)
        _ = try await check(.POST, ship, json: #"{"carrier":"UPS"}"#)
        let shipped = try await check(as: staff, .POST, ship, json: tracking)
        #expect(shipped.json?["data"]?["status"]?.string == "shipped")
        _ = try await check(as: staff, .POST, ship, json: tracking)
        let deliver = "/api/v1/orders/\(paid)/deliver"
        _ = try await check(as: buyer, .POST, deliver)
        _ = try await check(as: anonymous, .POST, deliver)
        _ = try await check(.POST, missing + "/deliver")
        _ = try await check(.POST, deliver, headers: key(String(repeating: "k", count: 256)))
        _ = try await check(.POST, "/api/v1/orders/\(cancellable)/deliver")
        let delivered = try await check(as: staff, .POST, deliver)
        #expect(delivered.json?["data"]?["status"]?.string == "delivered")

        // Refunds: part, then the rest; never more than was paid.
        let refunds = "/api/v1/orders/\(paid)/refunds"
        _ = try await check(.POST, refunds, json: #"{"amount":1000,"reason":"no key"}"#)
        let part = try await check(.POST, refunds, json: #"{"amount":1000,"reason":"scratched"}"#, headers: key("contract-refund-1"))
        #expect(part.json?["data"]?["status"]?.string == "partially_refunded")
        let replayed = try await check(.POST, refunds, json: #"{"amount":1000,"reason":"scratched"}"#, headers: key("contract-refund-1"))
        #expect(replayed.header("Idempotent-Replayed") == "true")
        _ = try await check(.POST, refunds, json: #"{"amount":2000,"reason":"scratched"}"#, headers: key("contract-refund-1"))
        _ = try await check(.POST, refunds, json: #"{"amount":100000,"reason":"too much"}"#, headers: key("contract-refund-2"))
        _ = try await check(.POST, refunds, json: "{", headers: key("contract-refund-3"))
        _ = try await check(.POST, refunds, json: oversize, headers: key("contract-refund-4"))
        _ = try await check(as: buyer, .POST, refunds, json: #"{"reason":"mine"}"#, headers: key("contract-refund-5"))
        _ = try await check(as: anonymous, .POST, refunds, json: #"{"reason":"anyone"}"#, headers: key("contract-refund-6"))
        _ = try await check(.POST, missing + "/refunds", json: #"{"reason":"nobody"}"#, headers: key("contract-refund-7"))
        _ = try await check(.POST, "/api/v1/orders/\(cancellable)/refunds", json: #"{"reason":"cancelled"}"#, headers: key("contract-refund-8"))
        let rest = try await check(as: staff, .POST, refunds, json: #"{"reason":"returned"}"#, headers: key("contract-refund-9"))
        #expect(rest.json?["data"]?["status"]?.string == "refunded")
    }

    /// `/api/v1/reports`: asked for, followed while the worker builds it, downloaded; each
    /// documented answer at least once.
    func exerciseReports(_ admin: RunningShop, staff: RunningShop, oversize: String, call: ContractCall) async throws {
        func check(
            as shop: RunningShop? = nil,
            _ method: NIOHTTP1.HTTPMethod,
            _ path: String,
            json: String? = nil,
            headers: [(String, String)] = []
        ) async throws -> HTTPResult {
            try await call(shop, method, path, json, headers)
        }
        let (_, customer) = try await admin.customer("reports@contract.example.com")
        let november = #"{"from":"2026-11-01","to":"2026-11-30"}"#
        let asked = try await check(as: staff, .POST, "/api/v1/reports", json: november, headers: [("Idempotency-Key", "contract-report")])
        #expect(asked.status == 202)
        let id = try #require(asked.json?["data"]?["id"]?.string)
        _ = try await check(
            as: staff,
            .POST,
            "/api/v1/reports",
            json: #"{"from":"2026-11-02","to":"2026-11-30"}"#,
            headers: [("Idempotency-Key", "contract-report")]
        )
        _ = try await check(.POST, "/api/v1/reports", json: #"{"from":"2026-11-31","to":"2026-11-30"}"#)
        _ = try await check(.POST, "/api/v1/reports", json: "{")
        _ = try await check(.POST, "/api/v1/reports", json: oversize)
        _ = try await check(as: customer, .POST, "/api/v1/reports", json: november)
        _ = try await check(as: admin.anonymous, .POST, "/api/v1/reports", json: november)
        let missing = "/api/v1/reports/rep_000000000000000000000000"
        for path in ["", "/daily.csv", "/top-products.csv"] {
            _ = try await check(as: customer, .GET, "/api/v1/reports/\(id)" + path)
            _ = try await check(as: admin.anonymous, .GET, "/api/v1/reports/\(id)" + path)
            _ = try await check(.GET, missing + path)
        }
        var report = try await check(.GET, "/api/v1/reports/\(id)")
        for _ in 0..<100 where report.json?["data"]?["status"]?.string != "done" {
            try await Task.sleep(for: .milliseconds(100))
            report = try await check(.GET, "/api/v1/reports/\(id)")
        }
        #expect(report.json?["data"]?["status"]?.string == "done")
        #expect(try await check(.GET, "/api/v1/reports/\(id)/daily.csv").status == 200)
        #expect(try await check(.GET, "/api/v1/reports/\(id)/top-products.csv").status == 200)
    }

    /// A report's files asked for before it is built (the builder runs hourly here): 409.
    func exerciseUnbuiltReport(_ admin: RunningShop, call: ContractCall) async throws {
        let asked = try await call(nil, .POST, "/api/v1/reports", #"{"from":"2026-11-01","to":"2026-11-30"}"#, [])
        let id = try #require(asked.json?["data"]?["id"]?.string)
        #expect(asked.json?["data"]?["status"]?.string == "queued")
        #expect(try await call(nil, .GET, "/api/v1/reports/\(id)/daily.csv", nil, []).status == 409)
        #expect(try await call(nil, .GET, "/api/v1/reports/\(id)/top-products.csv", nil, []).status == 409)
    }
}
