import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import PaymentAPI
import Platform
import ServiceLifecycle
import TestSupport
import Testing

@testable import PaymentService

/// The service configured for Stripe, over real HTTP on both sides: Orders' internal
/// call, the adapter against the fake Stripe, and Stripe's signed webhook on
/// `/api/v1/payments/webhooks/stripe`.
@Suite struct StripeThroughTheServiceTests {
    static let token = "internal-token-for-stripe-tests-0123456789"
    static let webhookSecret = "whsec_stripe_through_the_service"

    struct Answer {
        let status: Int
        let json: [String: Any]
        var data: [String: Any] { json["data"] as? [String: Any] ?? [:] }
    }

    static func call(_ url: String, headers: [(String, String)] = [], body: String? = nil) async throws -> Answer {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        let json = (try? JSONSerialization.jsonObject(with: Data(bytes.readableBytesView))) as? [String: Any] ?? [:]
        return Answer(status: Int(response.status.code), json: json)
    }

    @Test(arguments: TestDatabases.kinds())
    func aStripePaymentIsChargedRefundedAndSettledByItsWebhook(_ kind: DatabaseKind) async throws {
        try await FakeStripe.with { fake, stripeURL in
            try await TestDatabases.with(kind) { (database: any Database) async throws in
                let logger = TestDatabases.logger
                let stripe = StripeProvider(
                    secretKey: FakeStripe.secretKey,
                    apiBase: stripeURL,
                    webhookSecret: Self.webhookSecret,
                    timeout: .seconds(10)
                )
                let service = PaymentService(database: database, provider: .stripe(stripe), logger: logger)
                try await service.migrate(logger: logger)
                let router = EdgeRouter.makeInternal(health: [], metrics: ShopMetrics()) { router in
                    service.addInternalRoutes(to: router, token: Self.token)
                    service.addRoutes(to: router.group("/api/v1"))
                }
                try await RouterServer.serve(router) { port in
                    let base = "http://127.0.0.1:\(port)"
                    let auth = ("Authorization", "Bearer \(Self.token)")
                    func charge(_ order: String, _ method: String) -> String {
                        #"{"order_id":"\#(order)","customer_id":7,"amount":4200,"currency":"EUR","payment_method":\#(method)}"#
                    }
                    // A card number is refused before anything is recorded or sent.
                    let raw = try await Self.call(
                        base + "/internal/v1/payments",
                        headers: [auth, ("Idempotency-Key", "k-0")],
                        body: charge("o-0", #"{"card":{"number":"4242424242424242","exp_month":12,"exp_year":2034}}"#)
                    )
                    #expect(raw.status == 422)
                    #expect(await fake.received == 0)
                    // A token is charged once, however often the request comes.
                    let paid = try await Self.call(
                        base + "/internal/v1/payments",
                        headers: [auth, ("Idempotency-Key", "k-1")],
                        body: charge("o-1", #"{"token":"pm_card_visa"}"#)
                    )
                    #expect(paid.status == 201)
                    #expect(paid.data["status"] as? String == "succeeded")
                    _ = try await Self.call(
                        base + "/internal/v1/payments",
                        headers: [auth, ("Idempotency-Key", "k-1")],
                        body: charge("o-1", #"{"token":"pm_card_visa"}"#)
                    )
                    #expect(await fake.creations == 1)
                    let refund = try await Self.call(
                        base + "/internal/v1/payments/by-order/o-1/refunds",
                        headers: [auth, ("Idempotency-Key", "r-1")],
                        body: #"{"amount":1200,"reason":"one mug broke"}"#
                    )
                    #expect(refund.status == 201)
                    let settledRefund = try #require(try await service.store.payment(orderID: "o-1"))
                    #expect(settledRefund.amountRefunded == 1200)
                    // 3-D Secure: the payment waits; Stripe's webhook after the customer's step settles it.
                    let waiting = try await Self.call(
                        base + "/internal/v1/payments",
                        headers: [auth, ("Idempotency-Key", "k-2")],
                        body: charge("o-2", #"{"token":"pm_card_authenticationRequired"}"#)
                    )
                    #expect(waiting.status == 202)
                    #expect(waiting.data["status"] as? String == "requires_action")
                    let paymentID = try #require(waiting.data["id"] as? String)
                    let intentID = try #require(try await service.store.payment(id: paymentID)?.providerReference)
                    await fake.completeAction(intentID)
                    let event = Array(
                        #"{"id":"evt_1","type":"payment_intent.succeeded","data":{"object":{"id":"\#(intentID)","object":"payment_intent","metadata":{"payment_id":"\#(paymentID)"}}}}"#
                            .utf8
                    )
                    let forged = WebhookSignature(secret: "whsec_someone_else").header(for: event, at: Date())
                    let refused = try await Self.call(
                        base + "/api/v1/payments/webhooks/stripe",
                        headers: [("Stripe-Signature", forged)],
                        body: String(decoding: event, as: UTF8.self)
                    )
                    #expect(refused.status == 401)
                    #expect(try await service.store.payment(id: paymentID)?.status == .requiresAction, "a forged notice changes nothing")
                    let signature = WebhookSignature(secret: Self.webhookSecret).header(for: event, at: Date())
                    for _ in 0..<2 {
                        let taken = try await Self.call(
                            base + "/api/v1/payments/webhooks/stripe",
                            headers: [("Stripe-Signature", signature)],
                            body: String(decoding: event, as: UTF8.self)
                        )
                        #expect(taken.status == 200)
                    }
                    let settled = try #require(try await service.store.payment(id: paymentID))
                    #expect(settled.status == .succeeded)
                    #expect(settled.amountCaptured == 4200)
                    #expect(try await service.store.ledger(of: paymentID)[.capture] == 4200, "a webhook delivered twice books once")
                    let problems = await fake.problems
                    #expect(problems.isEmpty, "\(problems)")
                }
            }
        }
    }
}
