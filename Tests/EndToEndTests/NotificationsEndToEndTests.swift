import Foundation
import Platform
import TestSupport
import Testing

/// Notifications over real HTTP, a real SMTP server (aiosmtpd) and a real webhook receiver
/// that checks signatures with the Standard Webhooks reference library, on both engines.
@Suite struct NotificationsEndToEndTests {
    static func environment(smtp: SMTPServer) -> [String: String] {
        [
            "SMTP_URL": "smtp://127.0.0.1:\(smtp.port)",
            "MAIL_FROM": "Test Shop <orders@shop.test>",
            "SHOP_NAME": "Test Shop",
            "NOTIFICATIONS_POLL_MS": "50",
            "NOTIFICATIONS_SECRET": "notifications-secret-for-tests-0123456789",
            "PUBLIC_BASE_URL": "https://shop.test",
            "WEBHOOKS_ALLOW_PRIVATE_NETWORKS": "true",
        ]
    }

    /// The raw messages the server took for `address` so far.
    static func mail(_ smtp: SMTPServer, to address: String) throws -> [String] {
        try smtp.receivedMail().filter { $0.recipients.contains(address) }.map { String(decoding: $0.data, as: UTF8.self) }
    }

    static func waitForMail(_ smtp: SMTPServer, to address: String, count: Int) async throws -> [String] {
        for _ in 0..<600 {
            let got = try mail(smtp, to: address)
            if got.count >= count { return got }
            try await Task.sleep(for: .milliseconds(50))
        }
        return try mail(smtp, to: address)
    }

    static func guestOrder(_ admin: RunningShop, product: Int64, email: String, key: String) async throws -> String {
        let made = try await admin.anonymous.request(.POST, "/api/v1/carts")
        let token = try #require(made.json?["data"]?["cart_token"]?.string)
        let cart = [("X-Cart-Token", token)]
        #expect(try await admin.anonymous.request(.PUT, "/api/v1/cart/lines/\(product)", headers: cart, json: #"{"quantity":1}"#).status == 200)
        let placed = try await admin.anonymous.request(
            .POST,
            "/api/v1/orders",
            headers: cart + [("Idempotency-Key", key)],
            json: OrdersEndToEndTests.checkout(card: "pm_card_visa", email: email)
        )
        #expect(placed.status == 201, "\(String(decoding: placed.body, as: UTF8.self))")
        return try #require(placed.json?["data"]?["id"]?.string)
    }

    @Test(arguments: TestDatabases.kinds())
    func aConfirmedOrderSendsOneReceiptInTheCustomersLanguageAndAnOptedOutCustomerGetsNone(_ engine: DatabaseKind) async throws {
        let smtp = try await SMTPServer.start()
        defer { smtp.stop() }
        try await TestServer.withEveryDatabase(on: engine, environment: Self.environment(smtp: smtp)) { admin in
            let mug = try await OrdersEndToEndTests.product(admin, "mug-n", price: 1250, stock: 10)
            let (anna, annaShop) = try await admin.customer("anna@example.com")
            let (benID, benShop) = try await admin.customer("ben@example.com")
            let german = #"{"marketing_emails":false,"order_emails":true,"sms":false,"push":false,"locale":"de"}"#
            #expect(try await annaShop.request(.PUT, "/api/v1/users/\(anna)/preferences", json: german).status == 200)
            let none = #"{"marketing_emails":false,"order_emails":false,"sms":false,"push":false,"locale":"en"}"#
            #expect(try await benShop.request(.PUT, "/api/v1/users/\(benID)/preferences", json: none).status == 200)

            for (shop, key) in [(annaShop, "anna-1"), (benShop, "ben-1")] {
                #expect(try await shop.request(.PUT, "/api/v1/cart/lines/\(mug)", json: #"{"quantity":2}"#).status == 200)
                let placed = try await shop.request(
                    .POST,
                    "/api/v1/orders",
                    headers: [("Idempotency-Key", key)],
                    json: OrdersEndToEndTests.checkout(card: "pm_card_visa")
                )
                #expect(placed.status == 201)
            }
            // A guest's order, placed last: once its receipt is here, the others were handled.
            _ = try await Self.guestOrder(admin, product: mug, email: "guest@example.com", key: "guest-1")
            let guestMail = try await Self.waitForMail(smtp, to: "guest@example.com", count: 1)
            #expect(guestMail.count == 1)
            #expect(guestMail.first?.contains("Thank you for your order") == true)

            let annaMail = try await Self.waitForMail(smtp, to: "anna@example.com", count: 2)
            let receipts = annaMail.filter {
                $0.contains("Content-Transfer-Encoding: quoted-printable") && $0.contains("Vielen Dank f=C3=BCr Ihre Bestellung")
            }
            #expect(receipts.count == 1, "one receipt, in German")
            #expect(receipts.first?.contains("List-Unsubscribe: <https://shop.test/api/v1/unsubscribe?token=") == true)
            #expect(receipts.first?.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click") == true)
            #expect(receipts.first?.contains("From: \"Test Shop\" <orders@shop.test>") == true)
            // Ben has his welcome and nothing about his order.
            let benMail = try Self.mail(smtp, to: "ben@example.com")
            #expect(benMail.count == 1)
            #expect(benMail.first?.contains("your account at Test Shop") == true, "\(benMail)")

            // The delivery log says the same: to Anna herself, and to admins.
            // The server has the mail; the log says so a moment later.
            var history = try await annaShop.request(.GET, "/api/v1/users/\(anna)/notifications")
            for _ in 0..<100 where history.json?["data"]?.array?.allSatisfy({ $0["status"]?.string == "sent" }) != true {
                try await Task.sleep(for: .milliseconds(100))
                history = try await annaShop.request(.GET, "/api/v1/users/\(anna)/notifications")
            }
            #expect(history.status == 200)
            let kinds = history.json?["data"]?.array?.compactMap { $0["kind"]?.string }.sorted()
            #expect(kinds == ["order_confirmed", "welcome"])
            #expect(history.json?["data"]?.array?.allSatisfy { $0["status"]?.string == "sent" } == true)
            #expect(try await benShop.request(.GET, "/api/v1/users/\(anna)/notifications").status == 404)
            let dead = try await admin.request(.GET, "/api/v1/notifications?status=dead")
            #expect(dead.json?["data"]?.array?.isEmpty == true)

            // One click on Anna's link turns order mail off without a login.
            let link = try #require(receipts.first.flatMap(Self.unsubscribeLink))
            let clicked = try await admin.anonymous.request(
                .POST,
                String(link.dropFirst("https://shop.test".count)),
                headers: [("Content-Type", "application/x-www-form-urlencoded")],
                body: Data("List-Unsubscribe=One-Click".utf8)
            )
            #expect(clicked.status == 200)
            #expect(clicked.json?["data"]?["topic"]?.string == "orders")
            // Users hears of it: the account page says what the mail link did.
            var orderEmails: JSONValue?
            for _ in 0..<100 {
                orderEmails = try await annaShop.request(.GET, "/api/v1/users/\(anna)/preferences").json?["data"]?["order_emails"]
                if orderEmails == .bool(false) { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(orderEmails == .bool(false))
            #expect(try await annaShop.request(.GET, "/api/v1/users/me/notifications").status == 200)
            let forged = try await admin.anonymous.request(.POST, "/api/v1/unsubscribe?token=\(anna).orders.x")
            #expect(forged.status == 404)
            #expect(try await annaShop.request(.PUT, "/api/v1/cart/lines/\(mug)", json: #"{"quantity":1}"#).status == 200)
            let second = try await annaShop.request(
                .POST,
                "/api/v1/orders",
                headers: [("Idempotency-Key", "anna-2")],
                json: OrdersEndToEndTests.checkout(card: "pm_card_visa")
            )
            #expect(second.status == 201)
            _ = try await Self.guestOrder(admin, product: mug, email: "guest2@example.com", key: "guest-2")
            #expect(try await Self.waitForMail(smtp, to: "guest2@example.com", count: 1).count == 1)
            #expect(try Self.mail(smtp, to: "anna@example.com").count == 2, "nothing after unsubscribing")
        }
    }

    @Test(arguments: TestDatabases.kinds())
    func aWebhookReachesItsEndpointSignedAsStandardWebhooksSaysAndIsRetriedWithOneID(_ engine: DatabaseKind) async throws {
        let smtp = try await SMTPServer.start()
        defer { smtp.stop() }
        let receiver = try await StandardWebhooksReceiver.start(failFirst: 1)
        defer { receiver.stop() }
        var environment = Self.environment(smtp: smtp)
        // The first delivery fails with 503; the retry comes a second later.
        environment["NOTIFICATIONS_RETRY_WAIT_MS"] = "1000"
        try await TestServer.withEveryDatabase(on: engine, environment: environment) { admin in
            let refused = try await admin.request(
                .POST,
                "/api/v1/webhook-endpoints",
                json: #"{"url":"https://erp.example.com/x","event_types":["order.nothing"]}"#
            )
            #expect(refused.status == 422)
            let created = try await admin.request(
                .POST,
                "/api/v1/webhook-endpoints",
                json: #"{"url":"\#(receiver.url)","event_types":["order.confirmed"],"description":"ERP"}"#
            )
            #expect(created.status == 201)
            let endpoint = try #require(created.json?["data"]?["id"]?.string)
            try receiver.use(secret: try #require(created.json?["data"]?["secret"]?.string))
            #expect(try await admin.request(.GET, "/api/v1/webhook-endpoints/\(endpoint)").json?["data"]?["secret"] == nil)

            let mug = try await OrdersEndToEndTests.product(admin, "mug-w", price: 900, stock: 3)
            let order = try await Self.guestOrder(admin, product: mug, email: "hook@example.com", key: "hook-1")

            let got = try await receiver.wait { $0.count >= 2 }
            #expect(got.count == 2)
            #expect(got.map(\.status) == [503, 200])
            #expect(got.allSatisfy { $0.verified }, "the reference library accepts our signature")
            #expect(Set(got.map(\.id)).count == 1, "one webhook-id across the retry")
            #expect(got.first?.type == "order.confirmed")
            // The receiver has answered; the log says so a moment later.
            var delivery: JSONValue?
            for _ in 0..<100 {
                let deliveries = try await admin.request(.GET, "/api/v1/webhook-endpoints/\(endpoint)/deliveries")
                delivery = deliveries.json?["data"]?.array?.first
                if delivery?["status"]?.string == "sent" { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            let logged = try #require(delivery)
            #expect(logged["id"]?.string == got.first?.id)
            #expect(logged["status"]?.string == "sent")
            #expect(logged["attempts"]?.integer == 2)
            #expect(logged["event_type"]?.string == "order.confirmed")
            #expect(try await admin.request(.GET, "/api/v1/orders/\(order)").json?["data"]?["status"]?.string == "confirmed")

            // Sent again on request, with the same id.
            let resent = try await admin.request(.POST, "/api/v1/webhook-endpoints/\(endpoint)/deliveries/\(got[0].id)/resend")
            #expect(resent.status == 202)
            let again = try await receiver.wait { $0.count >= 3 }
            #expect(again.count == 3)
            #expect(again.last?.id == got.first?.id)
            #expect(again.last?.verified == true)
        }
    }

    @Test(arguments: TestDatabases.kinds())
    func aMailServerThatIsBusyStallsOrHangsUpMidMessageIsTriedAgainAndNothingArrivesTwice(_ engine: DatabaseKind) async throws {
        let smtp = try await SMTPServer.start()
        defer { smtp.stop() }
        var environment = Self.environment(smtp: smtp)
        environment["NOTIFICATIONS_RETRY_WAIT_MS"] = "300"
        environment["SMTP_TIMEOUT_SECONDS"] = "2"
        try await TestServer.withEveryDatabase(on: engine, environment: environment) { admin in
            let mug = try await OrdersEndToEndTests.product(admin, "mug-s", price: 500, stock: 10)
            let troubled = ["busyonce@example.com", "droponce@example.com", "stallonce@example.com"]
            for (index, address) in (troubled + ["refuse5xx@example.com"]).enumerated() {
                _ = try await Self.guestOrder(admin, product: mug, email: address, key: "smtp-\(index)")
            }

            for address in troubled {
                #expect(try await Self.waitForMail(smtp, to: address, count: 1).count == 1, "\(address)")
            }
            var log: [JSONValue] = []
            for _ in 0..<200 {
                log = try await admin.request(.GET, "/api/v1/notifications?kind=order_confirmed").json?["data"]?.array ?? []
                if log.count == 4, log.allSatisfy({ ["sent", "dead"].contains($0["status"]?.string) }) { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            let byTarget = Dictionary(uniqueKeysWithValues: log.compactMap { entry in entry["target"]?.string.map { ($0, entry) } })
            for address in troubled {
                #expect(byTarget[address]?["status"]?.string == "sent", "\(address)")
                #expect(byTarget[address]?["attempts"]?.integer == 2, "\(address): one failure, then the message")
            }
            #expect(byTarget["refuse5xx@example.com"]?["status"]?.string == "dead")
            #expect(byTarget["refuse5xx@example.com"]?["attempts"]?.integer == 1, "a 5xx is final")
            let dead = try #require(byTarget["refuse5xx@example.com"]?["id"]?.string)
            let detail = try await admin.request(.GET, "/api/v1/notifications/\(dead)")
            #expect(detail.json?["data"]?["attempt_log"]?.array?.first?["detail"]?.string?.contains("550") == true)
            // A little later, still nothing twice.
            try await Task.sleep(for: .seconds(1))
            for address in troubled { #expect(try Self.mail(smtp, to: address).count == 1) }
        }
    }

    static func unsubscribeLink(in message: String) -> String? {
        guard let start = message.range(of: "List-Unsubscribe: <")?.upperBound, let end = message[start...].firstIndex(of: ">") else {
            return nil
        }
        // A long header may be folded: the link itself never contains spaces.
        return message[start..<end].replacingOccurrences(of: "\r\n ", with: "").replacingOccurrences(of: "\r\n\t", with: "")
    }
}
