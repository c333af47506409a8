import Foundation
import NIOHTTP1
import PaymentService
import Platform
import Testing

/// Payments over real HTTP, on both engines: charges made through the internal API as
/// Orders makes them, outcomes that arrive later as signed webhooks from the test network,
/// and the public API's rules on who reads and who moves money.
@Suite struct PaymentsEndToEndTests {
    static let fast = [
        "TEST_NETWORK_ACTION_DELAY_MS": "300", "PAYMENT_PROVIDER_TIMEOUT_MS": "2000", "TEST_NETWORK_SLOW_DELAY_MS": "2500",
        "PAYMENT_RECONCILE_AFTER_SECONDS": "1", "PAYMENT_RECONCILE_EVERY_MS": "200",
    ]

    static func charge(
        _ shop: RunningShop,
        order: String,
        customer: Int64,
        number: String = "4242424242424242",
        key: String? = nil,
        token: String = TestServer.internalToken
    ) async throws -> HTTPResult {
        try await shop.internalListener.request(
            .POST,
            "/internal/v1/payments",
            headers: [("Authorization", "Bearer \(token)"), ("Idempotency-Key", key ?? "key-\(order)")],
            json:
                #"{"order_id":"\#(order)","customer_id":\#(customer),"amount":2500,"currency":"EUR","payment_method":{"card":{"number":"\#(number)","exp_month":12,"exp_year":2034,"cvc":"123"}}}"#
        )
    }

    static func key(_ value: String) -> [(String, String)] { [("Idempotency-Key", value)] }

    /// Polls until `check` holds, for outcomes that arrive by webhook or reconciler.
    static func eventually(_ shop: RunningShop, _ path: String, _ check: (HTTPResult) -> Bool) async throws -> HTTPResult {
        // Up to 30 s: the slow card settles through the reconciler, which a loaded machine
        // gets round to late.
        var last = try await shop.request(.GET, path)
        for _ in 0..<300 where !check(last) {
            try await Task.sleep(for: .milliseconds(100))
            last = try await shop.request(.GET, path)
        }
        return last
    }

    @Test(arguments: [DatabaseKind.sqlite, .postgres])
    func aChargeIsTakenOnceAndReadOnlyByItsCustomer(_ engine: DatabaseKind) async throws {
        try await TestServer.with(engine: engine, environment: Self.fast) { admin in
            let (ada, adaShop) = try await admin.customer("ada@example.com")
            let (_, bobShop) = try await admin.customer("bob@example.com")
            // No token, a wrong token: refused before anything is read.
            #expect(try await Self.charge(admin, order: "o-1", customer: ada, token: "").status == 401)
            #expect(try await Self.charge(admin, order: "o-1", customer: ada, token: String(repeating: "x", count: 40)).status == 401)
            let first = try await Self.charge(admin, order: "o-1", customer: ada)
            #expect(first.status == 201)
            let id = try #require(first.json?["data"]?["id"]?.string)
            #expect(first.json?["data"]?["status"]?.string == "succeeded")
            #expect(first.json?["data"]?["card"]?["last4"]?.string == "4242")
            #expect(!String(decoding: first.body, as: UTF8.self).contains("4242424242424242"))
            // The same request again: the same payment; another key on a paid order: a conflict.
            let again = try await Self.charge(admin, order: "o-1", customer: ada)
            #expect(again.json?["data"]?["id"]?.string == id)
            #expect(try await Self.charge(admin, order: "o-1", customer: ada, key: "other").status == 409)
            #expect(try await adaShop.request(.GET, "/api/v1/payments/\(id)").status == 200)
            #expect(try await bobShop.request(.GET, "/api/v1/payments/\(id)").status == 404)
            let bobsList = try await bobShop.request(.GET, "/api/v1/payments?customer_id=\(ada)")
            #expect(bobsList.json?["data"]?.array?.isEmpty == true)
            #expect(
                try await adaShop.request(.POST, "/api/v1/payments/\(id)/refunds", headers: Self.key("r-0"), json: #"{"reason":"mine"}"#).status
                    == 403
            )
            // Two partial refunds, then nothing is left.
            let refund = try await admin.request(
                .POST,
                "/api/v1/payments/\(id)/refunds",
                headers: Self.key("r-1"),
                json: #"{"amount":1000,"reason":"one sock"}"#
            )
            #expect(refund.status == 201)
            #expect(refund.json?["data"]?["status"]?.string == "succeeded")
            // A retry of the same refund (same key) answers it again and refunds nothing more.
            let refundAgain = try await admin.request(
                .POST,
                "/api/v1/payments/\(id)/refunds",
                headers: Self.key("r-1"),
                json: #"{"amount":1000,"reason":"one sock"}"#
            )
            #expect(refundAgain.json?["data"]?["id"] == refund.json?["data"]?["id"])
            #expect(
                try await admin.request(.POST, "/api/v1/payments/\(id)/refunds", headers: Self.key("r-2"), json: #"{"reason":"the rest"}"#).status
                    == 201
            )
            let empty = try await admin.request(.POST, "/api/v1/payments/\(id)/refunds", headers: Self.key("r-3"), json: #"{"reason":"more"}"#)
            #expect(empty.status == 409)
            let read = try await admin.request(.GET, "/api/v1/payments/\(id)")
            #expect(read.json?["data"]?["amount_refunded"]?.integer == 2500)
            #expect(read.json?["data"]?["refunds"]?.array?.count == 2)
            // A decline answers 402 with the provider's code; another card may follow.
            let declined = try await Self.charge(admin, order: "o-2", customer: ada, number: "4000000000009995")
            #expect(declined.status == 402)
            #expect(declined.json?["error"]?["code"]?.string == "PAYMENT_DECLINED")
            #expect(declined.json?["error"]?["decline_code"]?.string == "insufficient_funds")
            let retried = try await Self.charge(admin, order: "o-2", customer: ada, key: "second-card")
            #expect(retried.status == 201)
        }
    }

    /// A card that needs the customer's action settles later: the test network posts a
    /// signed webhook to the running server over HTTP, and the payment succeeds. A forged
    /// notice changes nothing.
    @Test(arguments: [DatabaseKind.sqlite, .postgres])
    func outcomesThatComeLaterArriveAsSignedWebhooks(_ engine: DatabaseKind) async throws {
        try await TestServer.with(engine: engine, environment: Self.fast) { admin in
            let (ada, _) = try await admin.customer("ada@example.com")
            let waiting = try await Self.charge(admin, order: "o-3ds", customer: ada, number: "4000002500003155")
            #expect(waiting.status == 202)
            // On a loaded machine the network's answer may miss the timeout: then the
            // payment waits as processing, and settles the same way.
            let state = waiting.json?["data"]?["status"]?.string
            #expect(state == "requires_action" || state == "processing")
            if state == "requires_action" { #expect(waiting.json?["data"]?["next_action_url"]?.string != nil) }
            let id = try #require(waiting.json?["data"]?["id"]?.string)
            // A notice signed with another secret, and one replayed from long ago, are refused.
            let body = Array(
                #"{"id":"evt_forged","type":"payment_intent.succeeded","data":{"object":{"id":"pi_x","object":"payment_intent","metadata":{"payment_id":"\#(id)"}}}}"#
                    .utf8
            )
            let forged = WebhookSignature(secret: "not the secret").header(for: body, at: Date())
            let old = WebhookSignature(secret: TestServer.webhookSecret).header(for: body, at: Date().addingTimeInterval(-600))
            for signature in [forged, old] {
                let refused = try await admin.anonymous.request(
                    .POST,
                    "/api/v1/payments/webhooks/test",
                    headers: [("Stripe-Signature", signature), ("Content-Type", "application/json")],
                    body: Data(body)
                )
                #expect(refused.status == 401)
            }
            let settled = try await Self.eventually(admin, "/api/v1/payments/\(id)") { $0.json?["data"]?["status"]?.string == "succeeded" }
            #expect(settled.json?["data"]?["status"]?.string == "succeeded")
            #expect(settled.json?["data"]?["amount_captured"]?.integer == 2500)
            let causes = settled.json?["data"]?["history"]?.array?.compactMap { $0["cause"]?.string } ?? []
            #expect(causes.contains { $0.hasPrefix("provider notice") || $0 == "reconciled" }, "\(causes)")
            // The slow card: the answer misses the timeout (202, processing), then settles.
            let slow = try await Self.charge(admin, order: "o-slow", customer: ada, number: "4000000000000119")
            #expect(slow.status == 202)
            #expect(slow.json?["data"]?["status"]?.string == "processing")
            let slowID = try #require(slow.json?["data"]?["id"]?.string)
            let done = try await Self.eventually(admin, "/api/v1/payments/\(slowID)") { $0.json?["data"]?["status"]?.string == "succeeded" }
            #expect(done.json?["data"]?["status"]?.string == "succeeded")
        }
    }
}
