import Crypto
import Foundation
import NIOCore
import PaymentAPI
import Platform
import Testing

@testable import PaymentService

/// The Stripe adapter against a fake Stripe over real HTTP, and its webhook checks.
@Suite struct StripeProviderTests {
    static func provider(_ base: String, timeout: TimeAmount = .seconds(5), breaker: CircuitBreaker? = nil) -> StripeProvider {
        StripeProvider(secretKey: FakeStripe.secretKey, apiBase: base, webhookSecret: webhookSecret, timeout: timeout, breaker: breaker)
    }

    static func charge(
        _ paymentID: String = "pay_1",
        attempt: Int = 1,
        amount: Int64 = 2500,
        captureMethod: CaptureMethod = .automatic,
        token: String = "pm_card_visa"
    ) -> ProviderCharge {
        ProviderCharge(
            paymentID: paymentID,
            idempotencyKey: "\(paymentID)-attempt-\(attempt)",
            amount: amount,
            currency: "EUR",
            captureMethod: captureMethod,
            method: PaymentMethodBody(token: token)
        )
    }

    static let visa = CardResource(brand: "visa", last4: "4242", expMonth: 12, expYear: 2034)

    // MARK: - Charges

    @Test func anAutomaticCaptureIsChargedAtOnceWithItsCardAndMetadata() async throws {
        try await FakeStripe.with { stripe, base in
            let intent = try await Self.provider(base).authorize(Self.charge())

            #expect(intent.status == .succeeded)
            #expect(intent.amount == 2500)
            #expect(intent.amountReceived == 2500)
            #expect(intent.amountCapturable == 0)
            #expect(intent.card == Self.visa)
            #expect(intent.failure == nil)
            #expect(intent.idempotencyKey == "pay_1-attempt-1")
            let stored = try #require(await stripe.intent(intent.reference))
            #expect(stored.currency == "eur")
            #expect(stored.captureMethod == "automatic")
            #expect(stored.metadata == ["payment_id": "pay_1", "attempt_key": "pay_1-attempt-1"])
            #expect(await stripe.problems == [])
        }
    }

    @Test func aManualCaptureIsAuthorizedThenCapturedInPartOnce() async throws {
        try await FakeStripe.with { stripe, base in
            let provider = Self.provider(base)
            let authorized = try await provider.authorize(Self.charge(captureMethod: .manual))
            #expect(authorized.status == .requiresCapture)
            #expect(authorized.amountCapturable == 2500)
            #expect(authorized.amountReceived == 0)

            let captured = try await provider.capture(reference: authorized.reference, amount: 1800, idempotencyKey: "pay_1-capture")

            #expect(captured.status == .succeeded)
            #expect(captured.amountReceived == 1800)
            #expect(captured.amountCapturable == 0)
            #expect(captured.card == Self.visa)
            let again = try await provider.capture(reference: authorized.reference, amount: 1800, idempotencyKey: "pay_1-capture")
            #expect(again == captured)
            let error = await #expect(throws: ProviderError.self) {
                try await provider.capture(reference: authorized.reference, amount: 700, idempotencyKey: "pay_1-capture-2")
            }
            #expect(error?.rejectionCode == "payment_intent_unexpected_state")
            #expect(await stripe.problems == [])
        }
    }

    @Test func capturingMoreThanWasAuthorizedIsRejected() async throws {
        try await FakeStripe.with { _, base in
            let provider = Self.provider(base)
            let authorized = try await provider.authorize(Self.charge(captureMethod: .manual))

            let error = await #expect(throws: ProviderError.self) {
                try await provider.capture(reference: authorized.reference, amount: 2501, idempotencyKey: "pay_1-capture")
            }

            #expect(error?.rejectionCode == "amount_too_large")
        }
    }

    @Test func anAuthorizationIsCanceledAndACapturedChargeIsNot() async throws {
        try await FakeStripe.with { stripe, base in
            let provider = Self.provider(base)
            let authorized = try await provider.authorize(Self.charge(captureMethod: .manual))

            let canceled = try await provider.cancel(reference: authorized.reference, idempotencyKey: "pay_1-cancel")

            #expect(canceled.status == .canceled)
            #expect(canceled.amountCapturable == 0)
            #expect(canceled.amountReceived == 0)
            let charged = try await provider.authorize(Self.charge("pay_2"))
            let error = await #expect(throws: ProviderError.self) {
                try await provider.cancel(reference: charged.reference, idempotencyKey: "pay_2-cancel")
            }
            #expect(error?.rejectionCode == "payment_intent_unexpected_state")
            #expect(await stripe.problems == [])
        }
    }

    @Test func aDeclinedCardIsAFailedIntentWithItsDeclineCodeNotAnError() async throws {
        try await FakeStripe.with { stripe, base in
            let provider = Self.provider(base)

            let intent = try await provider.authorize(Self.charge(token: "pm_card_visa_chargeDeclinedInsufficientFunds"))

            #expect(intent.status == .failed)
            #expect(intent.failure == PaymentFailure(code: "insufficient_funds", message: "Your card has insufficient funds."))
            #expect(intent.card?.last4 == "9995")
            #expect(intent.amountReceived == 0)
            #expect(await stripe.creations == 1)
            let found = try await provider.find(attemptKey: "pay_1-attempt-1", reference: intent.reference)
            #expect(found?.status == .failed)
            #expect(found?.failure == intent.failure)
            #expect(await stripe.problems == [])
        }
    }

    @Test func aDeclineWithoutADeclineCodeCarriesStripesCode() async throws {
        try await FakeStripe.with { _, base in
            let intent = try await Self.provider(base).authorize(Self.charge(token: "pm_card_chargeDeclinedProcessingError"))

            #expect(intent.status == .failed)
            #expect(intent.failure?.code == "processing_error")
        }
    }

    @Test func aCardThatMustAuthenticateGivesWhereTheCustomerGoes() async throws {
        try await FakeStripe.with { _, base in
            let intent = try await Self.provider(base).authorize(Self.charge(token: "pm_card_authenticationRequired"))

            #expect(intent.status == .requiresAction)
            #expect(intent.nextActionURL == "https://hooks.stripe.com/redirect/authenticate/src_\(intent.reference)")
            #expect(intent.failure == nil)
        }
    }

    @Test func anUnknownPaymentMethodIsRejected() async throws {
        try await FakeStripe.with { stripe, base in
            let error = await #expect(throws: ProviderError.self) {
                try await Self.provider(base).authorize(Self.charge(token: "pm_nonexistent"))
            }

            #expect(error?.rejectionCode == "resource_missing")
            #expect(await stripe.creations == 0)
        }
    }

    @Test func aRawCardIsRefusedBeforeAnyCall() async throws {
        try await FakeStripe.with { stripe, base in
            var charge = Self.charge()
            charge.method = PaymentMethodBody(card: CardBody(number: "4242424242424242", expMonth: 12, expYear: 2034, cvc: "123"))

            let error = await #expect(throws: ProviderError.self) { try await Self.provider(base).authorize(charge) }

            #expect(error?.rejectionCode == "raw_card_refused")
            #expect(!"\(String(describing: error))".contains("4242424242424242"))
            #expect(await stripe.received == 0)
        }
    }

    // MARK: - Idempotency

    @Test func theSameAuthorizationTwiceCreatesOneIntent() async throws {
        try await FakeStripe.with { stripe, base in
            let provider = Self.provider(base)

            let first = try await provider.authorize(Self.charge())
            let second = try await provider.authorize(Self.charge())

            #expect(second == first)
            #expect(await stripe.creations == 1)
        }
    }

    @Test func aDeclineRepeatedWithItsKeyIsTheSameDecline() async throws {
        try await FakeStripe.with { stripe, base in
            let provider = Self.provider(base)
            let declined = Self.charge(token: "pm_card_visa_chargeDeclinedInsufficientFunds")

            let first = try await provider.authorize(declined)
            let second = try await provider.authorize(declined)

            #expect(second == first)
            #expect(await stripe.creations == 1)
        }
    }

    @Test func aKeyReusedWithOtherParametersIsRejected() async throws {
        try await FakeStripe.with { stripe, base in
            let provider = Self.provider(base)
            _ = try await provider.authorize(Self.charge(amount: 2500))

            let error = await #expect(throws: ProviderError.self) { try await provider.authorize(Self.charge(amount: 3000)) }

            #expect(error?.rejectionCode == "idempotency_error")
            #expect(await stripe.creations == 1)
        }
    }

    // MARK: - Refunds

    @Test func aRefundSendsStripesReasonAndKeepsOursInMetadata() async throws {
        try await FakeStripe.with { stripe, base in
            let provider = Self.provider(base)
            let charged = try await provider.authorize(Self.charge())

            let refund = try await provider.refund(reference: charged.reference, amount: 1000, reason: "Arrived broken", idempotencyKey: "ref_1")

            #expect(refund.status == .succeeded)
            #expect(refund.amount == 1000)
            #expect(refund.failure == nil)
            let stored = try #require(await stripe.refund(refund.reference))
            #expect(stored.paymentIntent == charged.reference)
            #expect(stored.reason == "requested_by_customer")
            #expect(stored.metadata == ["reason": "Arrived broken", "refund_id": "ref_1"])
            let again = try await provider.refund(reference: charged.reference, amount: 1000, reason: "Arrived broken", idempotencyKey: "ref_1")
            #expect(again == refund)
            #expect(await stripe.intent(charged.reference)?.amountRefunded == 1000)
            let error = await #expect(throws: ProviderError.self) {
                try await provider.refund(reference: charged.reference, amount: 1501, reason: "Too much", idempotencyKey: "ref_2")
            }
            #expect(error?.rejectionCode == "amount_too_large")
            #expect(await stripe.problems == [])
        }
    }

    // MARK: - Finding a charge again

    @Test func findsAnIntentByReferenceAndNothingForAnUnknownOne() async throws {
        try await FakeStripe.with { stripe, base in
            let provider = Self.provider(base)
            let authorized = try await provider.authorize(Self.charge(captureMethod: .manual))

            let found = try await provider.find(attemptKey: "pay_1-attempt-1", reference: authorized.reference)

            #expect(found == authorized)
            #expect(try await provider.find(attemptKey: "pay_1-attempt-1", reference: "pi_unknown") == nil)
            #expect(await stripe.problems == [])
        }
    }

    @Test func findsTheIntentOfAnAttemptKeyWhenItsReferenceWasLost() async throws {
        try await FakeStripe.with { stripe, base in
            let provider = Self.provider(base)
            let declined = try await provider.authorize(Self.charge("pay_7", attempt: 1, token: "pm_card_visa_chargeDeclinedInsufficientFunds"))
            let charged = try await provider.authorize(Self.charge("pay_7", attempt: 2))
            _ = try await provider.authorize(Self.charge("pay_8", attempt: 2))

            let found = try await provider.find(attemptKey: "pay_7-attempt-2", reference: nil)

            #expect(found == charged)
            #expect(found?.card == Self.visa)
            #expect(try await provider.find(attemptKey: "pay_7-attempt-1", reference: nil)?.reference == declined.reference)
            #expect(try await provider.find(attemptKey: "pay_9-attempt-1", reference: nil) == nil)
            #expect(await stripe.problems == [])
        }
    }

    @Test func aQuoteInTheAttemptKeyIsEscapedInTheSearch() async throws {
        try await FakeStripe.with { stripe, base in
            let provider = Self.provider(base)
            let charged = try await provider.authorize(Self.charge("pay_o'brien"))

            let found = try await provider.find(attemptKey: "pay_o'brien-attempt-1", reference: nil)

            #expect(found?.reference == charged.reference)
            #expect(await stripe.problems == [])
        }
    }

    // MARK: - Stripe unreachable

    @Test(arguments: [500, 503, 429])
    func anAnswerThatMayBeRetriedIsUnavailableAndTheRetryChargesOnce(status: Int) async throws {
        try await FakeStripe.with { stripe, base in
            let provider = Self.provider(base)
            await stripe.answerNext(with: status)

            let error = await #expect(throws: ProviderError.self) { try await provider.authorize(Self.charge()) }

            #expect(error?.isUnavailable == true)
            let retried = try await provider.authorize(Self.charge())
            #expect(retried.status == .succeeded)
            #expect(await stripe.creations == 1)
        }
    }

    @Test func aClosedPortIsUnavailable() async throws {
        let provider = Self.provider("http://127.0.0.1:1", timeout: .seconds(1))

        let error = await #expect(throws: ProviderError.self) { try await provider.authorize(Self.charge()) }

        #expect(error?.isUnavailable == true)
    }

    @Test func anAnswerLaterThanTheTimeoutIsUnavailable() async throws {
        try await FakeStripe.with { stripe, base in
            await stripe.stallNext(for: .seconds(2))

            let error = await #expect(throws: ProviderError.self) {
                try await Self.provider(base, timeout: .milliseconds(200)).find(attemptKey: "pay_1-attempt-1", reference: "pi_1")
            }

            #expect(error?.isUnavailable == true)
        }
    }

    @Test func failuresOnStripesSideOpenTheBreakerAndDeclinesDoNot() async throws {
        try await FakeStripe.with { stripe, base in
            let breaker = CircuitBreaker(name: "stripe", configuration: .init(failureThreshold: 2, openDuration: .seconds(60)))
            let provider = Self.provider(base, breaker: breaker)
            for attempt in 1...2 {
                let intent = try await provider.authorize(Self.charge(attempt: attempt, token: "pm_card_visa_chargeDeclinedInsufficientFunds"))
                #expect(intent.status == .failed)
            }
            #expect(breaker.state == .closed)
            await stripe.answerNext(with: 500, times: 2)
            for attempt in 3...4 { await #expect(throws: ProviderError.self) { try await provider.authorize(Self.charge(attempt: attempt)) } }
            #expect(breaker.state == .open)

            let error = await #expect(throws: ProviderError.self) { try await provider.authorize(Self.charge(attempt: 5)) }

            #expect(error?.isUnavailable == true)
            #expect(await stripe.received == 4)
        }
    }

    // MARK: - Secrets

    @Test func aRefusedKeyIsNeverShownInTheError() async throws {
        try await FakeStripe.with { _, base in
            let secret = "sk_test_wrongKey000000000000"
            let provider = StripeProvider(secretKey: secret, apiBase: base, webhookSecret: nil)

            let error = await #expect(throws: ProviderError.self) { try await provider.authorize(Self.charge()) }

            #expect(error?.rejectionCode == "invalid_request_error")
            #expect(!String(describing: error).contains(secret))
        }
    }

    @Test func theProviderDescribesItselfWithoutItsKeys() {
        let provider = StripeProvider(secretKey: "sk_live_verysecret", webhookSecret: "whsec_verysecret")
        var dumped = ""
        dump(provider, to: &dumped)

        for text in [String(describing: provider), String(reflecting: provider), dumped] {
            #expect(!text.contains("verysecret"))
        }
        #expect(provider.name == "stripe")
    }

    // MARK: - Webhooks

    static let webhookSecret = "whsec_shopTestSecret"
    static let now = Date(timeIntervalSince1970: 1_767_225_600)
    static let event = Array(
        #"{"id":"evt_1","object":"event","type":"payment_intent.succeeded","data":{"object":{"id":"pi_1","object":"payment_intent","metadata":{"payment_id":"pay_1"}}}}"#
            .utf8
    )

    /// The `Stripe-Signature` header as Stripe documents it: `t=<unix time>,v1=<hex HMAC-SHA256 of "t.body">`.
    static func stripeSignature(_ body: [UInt8], secret: String = webhookSecret, at time: Date = now) -> String {
        let timestamp = Int64(time.timeIntervalSince1970)
        return "t=\(timestamp),v1=\(v1(body, secret: secret, timestamp: timestamp))"
    }

    static func v1(_ body: [UInt8], secret: String, timestamp: Int64) -> String {
        let signed = Array("\(timestamp).".utf8) + body
        let code = HMAC<SHA256>.authenticationCode(for: signed, using: SymmetricKey(data: Data(secret.utf8)))
        return code.map { String(format: "%02x", $0) }.joined()
    }

    static var notifiable: StripeProvider { StripeProvider(secretKey: FakeStripe.secretKey, webhookSecret: webhookSecret) }

    static func refusal(signature: String?, body: [UInt8] = event, provider: StripeProvider = notifiable) -> ProviderError? {
        #expect(throws: ProviderError.self) { try provider.verifyNotice(signature: signature, body: body, now: now) }
    }

    @Test func aNoticeSignedAsStripeDocumentsIsAccepted() throws {
        let notice = try Self.notifiable.verifyNotice(signature: Self.stripeSignature(Self.event), body: Self.event, now: Self.now)

        #expect(notice == ProviderNotice(eventID: "evt_1", type: "payment_intent.succeeded", reference: "pi_1", paymentID: "pay_1"))
    }

    @Test func aNoticeSignedWithAnotherSecretIsRefused() {
        #expect(Self.refusal(signature: Self.stripeSignature(Self.event, secret: "whsec_other"))?.isUnsignedNotice == true)
    }

    @Test func aTamperedBodyIsRefused() {
        let tampered = Array(String(decoding: Self.event, as: UTF8.self).replacingOccurrences(of: "pi_1", with: "pi_2").utf8)

        #expect(Self.refusal(signature: Self.stripeSignature(Self.event), body: tampered)?.isUnsignedNotice == true)
    }

    @Test func oneRightSignatureAmongSeveralIsEnough() throws {
        let timestamp = Int64(Self.now.timeIntervalSince1970)
        let wrong = Self.v1(Self.event, secret: "whsec_rolled_away", timestamp: timestamp)
        let right = Self.v1(Self.event, secret: Self.webhookSecret, timestamp: timestamp)

        let notice = try Self.notifiable.verifyNotice(signature: "t=\(timestamp),v1=\(wrong),v1=\(right)", body: Self.event, now: Self.now)

        #expect(notice.eventID == "evt_1")
    }

    @Test func aMissingSignatureIsRefused() {
        #expect(Self.refusal(signature: nil)?.isUnsignedNotice == true)
        #expect(Self.refusal(signature: "")?.isUnsignedNotice == true)
    }

    @Test func aReplayedNoticeOlderThanFiveMinutesIsRefused() {
        let old = Self.stripeSignature(Self.event, at: Self.now.addingTimeInterval(-301))

        #expect(Self.refusal(signature: old)?.isUnsignedNotice == true)
    }

    @Test func withoutAWebhookSecretEveryNoticeIsRefused() {
        let provider = StripeProvider(secretKey: FakeStripe.secretKey, webhookSecret: nil)

        #expect(Self.refusal(signature: Self.stripeSignature(Self.event), provider: provider)?.isUnsignedNotice == true)
    }
}

extension ProviderError {
    fileprivate var isUnavailable: Bool {
        if case .unavailable = self { return true }
        return false
    }

    fileprivate var isUnsignedNotice: Bool {
        if case .unsignedNotice = self { return true }
        return false
    }

    fileprivate var rejectionCode: String? {
        if case .rejected(let code, _) = self { return code }
        return nil
    }
}
