import Foundation
import NIOHTTP1
import Testing

extension OpenAPIContractTests {
    /// What the contract suite's server runs with for Notifications: webhook endpoints on
    /// loopback (the shop itself, and a port nothing listens on) and a quick dispatcher.
    static let notificationsEnvironment = ["WEBHOOKS_ALLOW_PRIVATE_NETWORKS": "true", "NOTIFICATIONS_POLL_MS": "50"]

    /// `/api/v1/notifications`, a user's notifications, the one-click unsubscribe and
    /// `/api/v1/webhook-endpoints`: an order sends a receipt (with its unsubscribe link) and
    /// webhooks to an endpoint that refuses them (dead) and one that cannot be reached
    /// (retried); each documented answer at least once.
    func exerciseNotifications(_ admin: RunningShop, staff: RunningShop, oversize: String, call: ContractCall) async throws {
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
        let forged = admin.signedIn(as: "eyJhbGciOiJub25lIn0.e30.")
        let (customerID, customer) = try await admin.customer("notified@contract.example.com")
        let (_, stranger) = try await admin.customer("nosy@contract.example.com")

        // Endpoints: the shop itself answers 404 to every delivery (dead at once); nothing
        // listens on port 1 (retried for a day).
        let endpoints = "/api/v1/webhook-endpoints"
        let refusing = #"{"url":"http://127.0.0.1:\#(admin.port)/contract-webhooks","event_types":["order.created","order.confirmed"]}"#
        let made = try await check(.POST, endpoints, json: refusing, headers: key("contract-endpoint"))
        #expect(made.status == 201)
        #expect(made.json?["data"]?["secret"]?.string?.hasPrefix("whsec_") == true)
        let refused = try #require(made.json?["data"]?["id"]?.string)
        let again = try await check(.POST, endpoints, json: refusing, headers: key("contract-endpoint"))
        #expect(again.header("Idempotent-Replayed") == "true")
        let reused = try await check(
            .POST,
            endpoints,
            json: #"{"url":"http://127.0.0.1:1/x","event_types":["order.created"]}"#,
            headers: key("contract-endpoint")
        )
        #expect(reused.status == 409)
        let unreachable = try await check(
            .POST,
            endpoints,
            json: #"{"url":"http://127.0.0.1:1/hooks","event_types":["order.confirmed"],"description":"nothing listens"}"#
        )
        let silent = try #require(unreachable.json?["data"]?["id"]?.string)
        let refusedURL = try await check(.POST, endpoints, json: #"{"url":"http://user:secret@127.0.0.1/hooks","event_types":["order.created"]}"#)
        #expect(refusedURL.json?["error"]?["field"]?.string == "url")
        let unknownType = try await check(
            .POST,
            endpoints,
            json: #"{"url":"http://127.0.0.1:1/hooks","event_types":["order.paid"],"description":"\u0007"}"#
        )
        #expect(unknownType.json?["errors"]?.array?.compactMap { $0["field"]?.string }.sorted() == ["description", "event_types"])
        _ = try await check(.POST, endpoints, json: "{")
        _ = try await check(.POST, endpoints, json: oversize)
        _ = try await check(.POST, endpoints, json: refusing, headers: key(String(repeating: "k", count: 256)))
        _ = try await check(as: anonymous, .POST, endpoints, json: refusing)
        _ = try await check(as: staff, .POST, endpoints, json: refusing)
        _ = try await check(.GET, endpoints)
        _ = try await check(.GET, endpoints + "?cursor=&per_page=1&sort=-created_at")
        _ = try await check(.GET, endpoints + "?sort=url")
        _ = try await check(as: anonymous, .GET, endpoints)
        _ = try await check(as: staff, .GET, endpoints)
        let endpoint = "\(endpoints)/\(refused)"
        let missingEndpoint = "\(endpoints)/we_000000000000000000000000"
        let shown = try await check(.GET, endpoint)
        #expect(shown.json?["data"]?["secret"] == nil)
        _ = try await check(.GET, missingEndpoint)
        _ = try await check(as: anonymous, .GET, endpoint)
        _ = try await check(as: customer, .GET, endpoint)
        _ = try await check(.PATCH, endpoint, json: #"{"description":"answers 404"}"#)
        _ = try await check(.PATCH, endpoint, json: "{")
        _ = try await check(.PATCH, endpoint, json: oversize)
        _ = try await check(.PATCH, endpoint, json: #"{"enabled":"yes","event_types":[]}"#)
        _ = try await check(.PATCH, missingEndpoint, json: "{}")
        _ = try await check(as: anonymous, .PATCH, endpoint, json: "{}")
        _ = try await check(as: staff, .PATCH, endpoint, json: "{}")

        // An order: a receipt to the customer and webhooks to both endpoints.
        let product = try await OrdersEndToEndTests.product(admin, "contract-notified", price: 1500, stock: 5)
        #expect(try await customer.request(.PUT, "/api/v1/cart/lines/\(product)", json: #"{"quantity":1}"#).status == 200)
        let placed = try await customer.request(
            .POST,
            "/api/v1/orders",
            headers: key("contract-notified-order"),
            json: OrdersEndToEndTests.checkout(card: "pm_card_visa")
        )
        #expect(placed.status == 201)
        let deliveries = "\(endpoint)/deliveries"
        let dead = try await eventually(admin, "\(deliveries)?status=dead") { $0.count >= 2 }
        let deadID = try #require(dead.first?["id"]?.string)
        let otherDeadID = try #require(dead.last?["id"]?.string)
        let waiting = try await eventually(admin, "\(endpoints)/\(silent)/deliveries?status=retrying") { $0.count == 1 }
        let retryingID = try #require(waiting.first?["id"]?.string)
        let mine = "/api/v1/users/\(customerID)/notifications"
        let receipts = try await eventually(admin, "\(mine)?kind=order_confirmed&status=sent") { $0.count == 1 }
        let receiptID = try #require(receipts.first?["id"]?.string)

        _ = try await check(.GET, deliveries)
        _ = try await check(.GET, "\(deliveries)?status=dead&per_page=1&page=2&sort=created_at")
        _ = try await check(.GET, "\(deliveries)?status=lost&kind=welcome")
        _ = try await check(.GET, "\(missingEndpoint)/deliveries")
        _ = try await check(as: anonymous, .GET, deliveries)
        _ = try await check(as: staff, .GET, deliveries)
        let resend = "\(deliveries)/\(deadID)/resend"
        let resent = try await check(.POST, resend, headers: key("contract-resend"))
        #expect(resent.json?["data"]?["status"]?.string == "queued")
        let resentAgain = try await check(.POST, resend, headers: key("contract-resend"))
        #expect(resentAgain.header("Idempotent-Replayed") == "true")
        _ = try await check(.POST, resend, json: "{}", headers: key("contract-resend"))
        _ = try await check(.POST, resend, headers: key(String(repeating: "k", count: 256)))
        let onItsWay = try await check(.POST, "\(endpoints)/\(silent)/deliveries/\(retryingID)/resend")
        #expect(onItsWay.status == 409)
        _ = try await check(.POST, "\(endpoints)/\(silent)/deliveries/\(deadID)/resend")
        _ = try await check(.POST, "\(deliveries)/ntf_000000000000000000000000/resend")
        _ = try await check(as: anonymous, .POST, resend)
        _ = try await check(as: staff, .POST, resend)
        #expect(try await check(.PATCH, endpoint, json: #"{"enabled":false}"#).json?["data"]?["enabled"] == .bool(false))
        let disabled = try await check(.POST, "\(deliveries)/\(otherDeadID)/resend")
        #expect(disabled.status == 409)
        _ = try await check(.PATCH, endpoint, json: #"{"enabled":true,"event_types":["order.created"],"description":null}"#)

        // The delivery log: admins only, a user's own for them.
        let log = "/api/v1/notifications"
        _ = try await check(.GET, log)
        _ = try await check(.GET, "\(log)?status=sent&channel=email&kind=welcome&user_id=\(customerID)&per_page=1&cursor=")
        let fromEvent = try #require(receipts.first?["event_id"]?.string)
        let found = try await check(.GET, "\(log)?event_id=\(fromEvent)&sort=created_at")
        #expect(found.json?["data"]?.array?.count == 3)
        _ = try await check(.GET, "\(log)?status=lost&channel=fax&kind=x&user_id=0&event_id=")
        _ = try await check(as: anonymous, .GET, log)
        _ = try await check(as: staff, .GET, log)
        let detail = try await check(.GET, "\(log)/\(otherDeadID)")
        #expect(detail.json?["data"]?["attempt_log"]?.array?.first?["outcome"]?.string == "permanent")
        _ = try await check(.GET, "\(log)/ntf_000000000000000000000000")
        _ = try await check(.GET, "\(log)/x")
        _ = try await check(as: anonymous, .GET, "\(log)/\(receiptID)")
        _ = try await check(as: customer, .GET, "\(log)/\(receiptID)")
        let replayed = try await check(.POST, "\(log)/\(otherDeadID)/replay")
        #expect(replayed.status == 202)
        let notDead = try await check(.POST, "\(log)/\(receiptID)/replay")
        #expect(notDead.status == 409)
        _ = try await check(.POST, "\(log)/ntf_000000000000000000000000/replay")
        _ = try await check(as: anonymous, .POST, "\(log)/\(receiptID)/replay")
        _ = try await check(as: staff, .POST, "\(log)/\(receiptID)/replay")
        let own = try await check(as: customer, .GET, mine)
        #expect(own.json?["data"]?.array?.compactMap { $0["kind"]?.string }.sorted() == ["order_confirmed", "welcome"])
        _ = try await check(as: staff, .GET, "\(mine)?status=sent&channel=email&kind=order_confirmed&per_page=1&page=2")
        _ = try await check(as: customer, .GET, "\(mine)?cursor=&per_page=1&sort=created_at")
        _ = try await check(as: stranger, .GET, mine)
        _ = try await check(as: customer, .GET, "\(mine)?status=lost&user_id=1")
        _ = try await check(.GET, "/api/v1/users/x/notifications")
        _ = try await check(as: anonymous, .GET, mine)

        // One-click unsubscribe, with the link the receipt carries.
        let token = try #require(try Self.unsubscribeToken(in: admin, message: receiptID))
        let unsubscribe = "/api/v1/unsubscribe"
        let oneClick = [("Content-Type", "application/x-www-form-urlencoded")]
        let unsubscribed = try await check(
            as: anonymous,
            .POST,
            "\(unsubscribe)?token=\(token)",
            json: "List-Unsubscribe=One-Click",
            headers: oneClick
        )
        #expect(unsubscribed.json?["data"]?["topic"]?.string == "orders")
        _ = try await check(as: anonymous, .POST, "\(unsubscribe)?token=\(token)")
        _ = try await check(as: anonymous, .POST, unsubscribe, json: "List-Unsubscribe=One-Click", headers: oneClick)
        _ = try await check(as: anonymous, .POST, "\(unsubscribe)?token=\(token)&token=\(token)")
        _ = try await check(as: anonymous, .POST, "\(unsubscribe)?token=\(token)&page=1")
        _ = try await check(as: anonymous, .POST, "\(unsubscribe)?token=\(customerID).orders.x")
        _ = try await check(as: forged, .POST, "\(unsubscribe)?token=\(token)")

        // At most 50 endpoints; then the last steps of one.
        for index in 2..<50 {
            let filler = #"{"url":"http://127.0.0.1:1/filler-\#(index)","event_types":["payment.canceled"]}"#
            #expect(try await admin.request(.POST, endpoints, json: filler).status == 201)
        }
        let full = try await check(.POST, endpoints, json: #"{"url":"http://127.0.0.1:1/one-too-many","event_types":["order.created"]}"#)
        #expect(full.status == 409)
        _ = try await check(as: anonymous, .DELETE, endpoint)
        _ = try await check(as: staff, .DELETE, endpoint)
        _ = try await check(.DELETE, endpoint)
        _ = try await check(.DELETE, endpoint)
        _ = try await check(.DELETE, "\(endpoints)/x")
    }

    /// The items of the list at `path` once `done` holds for them, read as `shop` every 50 ms
    /// for up to 10 s.
    private func eventually(_ shop: RunningShop, _ path: String, until done: ([JSONValue]) -> Bool) async throws -> [JSONValue] {
        var items: [JSONValue] = []
        for _ in 0..<200 {
            items = try await shop.request(.GET, path).json?["data"]?.array ?? []
            if done(items) { return items }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("\(path) never came to what the test waits for: \(items)")
        return items
    }

    /// The unsubscribe token in the `List-Unsubscribe` header of the e-mail whose
    /// `Message-ID` starts with `message`, as the embedded default wrote it to its folder.
    static func unsubscribeToken(in shop: RunningShop, message: String) throws -> String? {
        let folder = URL(fileURLWithPath: try #require(shop.dataDirectory)).appendingPathComponent("outbox-mail")
        let name = try FileManager.default.contentsOfDirectory(atPath: folder.path).first { $0.contains(message) && $0.hasSuffix(".eml") }
        let text = try String(contentsOf: folder.appendingPathComponent(try #require(name)), encoding: .utf8)
        guard let header = text.split(whereSeparator: \.isNewline).first(where: { $0.hasPrefix("List-Unsubscribe: <") }),
            let start = header.range(of: "token=")?.upperBound, let end = header[start...].firstIndex(of: ">")
        else { return nil }
        return String(header[start..<end])
    }
}
