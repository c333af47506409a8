import Foundation
import Logging
import PaymentAPI
import Platform
import SQLKit
import TestSupport
import Testing

@testable import PaymentService

/// The payment operations through the test network, against real SQLite and PostgreSQL.
@Suite struct PaymentsTests {
    static let kinds = TestDatabases.kinds()
    static let visa = PaymentMethodBody(card: CardBody(number: "4242 4242 4242 4242", expMonth: 12, expYear: 2034, cvc: "123"))

    static func card(_ number: String) -> PaymentMethodBody {
        PaymentMethodBody(card: CardBody(number: number, expMonth: 12, expYear: 2034, cvc: "123"))
    }

    struct Harness: Sendable {
        let payments: Payments
        let network: TestNetwork
        var store: PaymentStore { payments.store }

        func charge(
            _ order: String,
            _ method: PaymentMethodBody = PaymentsTests.visa,
            amount: Int64 = 1000,
            capture: CaptureMethod = .automatic,
            key: String? = nil
        ) async throws -> Payment {
            let body = NewPayment(orderID: order, customerID: 7, amount: amount, currency: "EUR", captureMethod: capture, paymentMethod: method)
            return try await payments.create(try Payments.validated(body, now: Date()), idempotencyKey: key ?? "key-\(order)")
        }

        /// A charge as a process killed at once would leave it: the attempt recorded, the
        /// provider not asked yet.
        func recordOnly(_ order: String, amount: Int64 = 1000) async throws -> Payment {
            let request = PaymentStore.ChargeRequest(
                orderID: order,
                customerID: 7,
                amount: amount,
                currency: "EUR",
                captureMethod: .automatic,
                provider: "test",
                idempotencyKey: "k",
                fingerprint: "f",
                card: nil
            )
            guard case .call(let recorded) = try await store.start(request, at: Date()) else { throw AlreadyRecorded() }
            return recorded
        }

        struct AlreadyRecorded: Error {}

        /// The network charges a recorded attempt; its answer never reaches the service.
        @discardableResult
        func chargeAtNetwork(_ recorded: Payment) async throws -> ProviderIntent {
            try await network.authorize(
                ProviderCharge(
                    paymentID: recorded.id,
                    idempotencyKey: recorded.attemptKey,
                    amount: recorded.amount,
                    currency: recorded.currency,
                    captureMethod: .automatic,
                    method: PaymentsTests.visa
                )
            )
        }

        /// The ledger explains the payment: authorized minus captured minus voided is what
        /// is capturable, captures sum to what was captured, refunds to what was refunded.
        func checkBooks(_ id: String) async throws {
            let payment = try #require(try await store.payment(id: id))
            let ledger = try await store.ledger(of: id)
            let authorized = ledger[.authorization] ?? 0, captured = ledger[.capture] ?? 0
            let voided = ledger[.void] ?? 0, refunded = ledger[.refund] ?? 0
            #expect(authorized - captured - voided == payment.amountCapturable, "\(ledger) against \(payment)")
            #expect(captured == payment.amountCaptured)
            #expect(refunded == payment.amountRefunded)
            #expect(payment.amountRefunded + payment.refundPending <= payment.amountCaptured)
            #expect(authorized <= payment.amount)
        }

        func count(_ sql: String) async throws -> Int {
            try await store.database.read { db in try await db.raw(SQLQueryString(sql)).first(decodingColumn: "n", as: Int.self) ?? -1 }
        }
    }

    private func with(
        _ kind: DatabaseKind,
        timeout: Duration = .seconds(30),
        authorizationTTL: Duration = .seconds(3600),
        slowDelay: Duration = .seconds(1),
        lostAfter: Duration = .seconds(3600),
        actionTTL: Duration = .seconds(3600),
        _ body: @Sendable (Harness) async throws -> Void
    ) async throws {
        try await TestDatabases.with(kind) { (database: any Database) async throws in
            try await Migrator(PaymentService.migrations, logger: TestDatabases.logger).migrate(database)
            let network = TestNetwork(
                database: database,
                settings: TestNetwork.Settings(actionDelay: .zero, slowDelay: slowDelay, webhookSecret: "whsec_test_secret")
            )
            let payments = Payments(
                store: PaymentStore(database: database),
                provider: network,
                timeout: timeout,
                authorizationTTL: authorizationTTL,
                reconcileAfter: .zero,
                lostAfter: lostAfter,
                actionTTL: actionTTL,
                breaker: nil,
                logger: TestDatabases.logger,
                now: { Date() }
            )
            try await body(Harness(payments: payments, network: network))
        }
    }

    @Test(arguments: kinds)
    func aCardThatSucceedsIsChargedOnceAndBooked(_ kind: DatabaseKind) async throws {
        try await with(kind) { harness in
            let payment = try await harness.charge("order-1")
            #expect(payment.status == .succeeded)
            #expect(payment.amountCaptured == 1000)
            #expect(payment.card == CardResource(brand: "visa", last4: "4242", expMonth: 12, expYear: 2034))
            try await harness.checkBooks(payment.id)
            #expect(try await harness.count("SELECT COUNT(*) AS n FROM outbox WHERE type = 'payment.completed'") == 1)
            // The same request again answers the same payment; the network saw one charge.
            let again = try await harness.charge("order-1")
            #expect(again.id == payment.id)
            #expect(try await harness.count("SELECT COUNT(*) AS n FROM test_network_intents") == 1)
            // The card number is nowhere: not in our rows, not in the events.
            let rows = try await harness.store.database.read { sql in
                try await sql.raw("SELECT envelope AS text FROM outbox UNION ALL SELECT card_last4 FROM payments").all()
                    .map { try $0.decode(column: "text", as: String?.self) ?? "" }
            }
            #expect(!rows.contains { $0.contains("4242424242424242") || $0.contains("4242 4242 4242 4242") })
            let history = try await harness.store.resource(of: again).history.map(\.to)
            #expect(history == [.processing, .succeeded])
        }
    }

    @Test(arguments: kinds)
    func theSameKeyWithAnotherBodyOrAnotherKeyOnAPaidOrderIsAConflict(_ kind: DatabaseKind) async throws {
        try await with(kind) { harness in
            _ = try await harness.charge("order-2")
            await #expect(throws: PaymentError.conflict("The idempotency key was used with another request")) {
                _ = try await harness.charge("order-2", amount: 999)
            }
            await #expect(throws: PaymentError.self) { _ = try await harness.charge("order-2", key: "another-key") }
            #expect(try await harness.count("SELECT COUNT(*) AS n FROM test_network_intents") == 1)
        }
    }

    @Test(arguments: kinds)
    func aDeclinedCardFailsWithItsCodeAndAnotherCardMayFollow(_ kind: DatabaseKind) async throws {
        try await with(kind) { harness in
            let declined = try await harness.charge("order-3", Self.card("4000000000009995"))
            #expect(declined.status == .failed)
            #expect(declined.failure?.code == "insufficient_funds")
            #expect(declined.amountCaptured == 0)
            #expect(try await harness.count("SELECT COUNT(*) AS n FROM outbox WHERE type = 'payment.failed'") == 1)
            let expired = try await harness.charge("order-3", Self.card("4000000000000069"), key: "second")
            #expect(expired.failure?.code == "expired_card")
            let paid = try await harness.charge("order-3", key: "third")
            #expect(paid.id == declined.id)
            #expect(paid.attempt == 3)
            #expect(paid.status == .succeeded)
            #expect(paid.failure == nil)
            try await harness.checkBooks(paid.id)
            // A card past its expiry is declined whatever its number.
            let old = PaymentMethodBody(card: CardBody(number: "4242424242424242", expMonth: 1, expYear: 2020))
            #expect(try await harness.charge("order-3b", old).failure?.code == "expired_card")
        }
    }

    @Test(arguments: kinds)
    func manualCaptureTakesPartAndReleasesTheRest(_ kind: DatabaseKind) async throws {
        try await with(kind) { harness in
            let held = try await harness.charge("order-4", capture: .manual)
            #expect(held.status == .requiresCapture)
            #expect(held.amountCapturable == 1000)
            #expect(held.authorizationExpiresAt != nil)
            try await harness.checkBooks(held.id)
            await #expect(throws: PaymentError.conflict("At most 1000 of payment \(held.id) can be captured")) {
                _ = try await harness.payments.capture(held.id, amount: 1001)
            }
            let captured = try await harness.payments.capture(held.id, amount: 600)
            #expect(captured.status == .succeeded)
            #expect(captured.amountCaptured == 600)
            #expect(captured.amountCapturable == 0)
            try await harness.checkBooks(held.id)
            #expect(try await harness.store.ledger(of: held.id)[.void] == 400)
            await #expect(throws: PaymentError.self) { _ = try await harness.payments.capture(held.id, amount: 100) }
            // A void of a held authorization releases all of it.
            let other = try await harness.charge("order-4b", capture: .manual)
            let voided = try await harness.payments.cancel(other.id)
            #expect(voided.status == .canceled)
            try await harness.checkBooks(other.id)
            #expect(try await harness.store.ledger(of: other.id)[.void] == 1000)
            #expect(try await harness.count("SELECT COUNT(*) AS n FROM outbox WHERE type = 'payment.canceled'") == 1)
        }
    }

    /// Orders closes an order it gives up on before its charge is known: a charge that
    /// arrives afterwards is refused before the provider is asked, and a charge and a
    /// closure that race end one way or the other, never both.
    @Test(arguments: kinds)
    func anOrderClosedToChargesRefusesEveryLaterCharge(_ kind: DatabaseKind) async throws {
        try await with(kind) { harness in
            func close(_ order: String) async throws -> Payment? {
                try await harness.store.close(
                    PaymentStore.Closure(orderID: order, customerID: 7, amount: 1000, currency: "EUR", provider: "test"),
                    at: Date()
                )
            }
            #expect(try await close("order-c1") == nil)
            #expect(try await close("order-c1") == nil, "closing twice is the same closure")
            await #expect(throws: PaymentError.conflict("Order order-c1 was closed before its charge arrived; nothing was charged")) {
                _ = try await harness.charge("order-c1")
            }
            await #expect(throws: PaymentError.self) { _ = try await harness.charge("order-c1", key: "another-key") }
            let closure = try #require(try await harness.store.payment(orderID: "order-c1"))
            #expect(closure.status == .canceled)
            #expect(closure.isClosure)
            #expect(closure.failure?.code == "order_closed")
            #expect(closure.amountCaptured == 0)
            try await harness.checkBooks(closure.id)
            #expect(try await harness.count("SELECT COUNT(*) AS n FROM test_network_intents") == 0, "the provider was never asked")
            #expect(try await harness.count("SELECT COUNT(*) AS n FROM outbox") == 0)
            #expect(try await harness.store.unsettled(before: Date().addingTimeInterval(60), now: Date()).isEmpty, "nothing for the reconciler")

            // A paid order stays paid: the closure answers its payment.
            let paid = try await harness.charge("order-c2")
            #expect(try await close("order-c2")?.id == paid.id)
            #expect(try await harness.store.payment(orderID: "order-c2")?.status == .succeeded)

            // Charges and closures racing for the same orders.
            let outcomes = try await withThrowingTaskGroup(of: (charged: Bool, closed: Bool).self) { group in
                for round in 0..<12 {
                    let order = "order-race-\(round)"
                    group.addTask {
                        async let charge: Bool = {
                            do {
                                return try await harness.charge(order).status == .succeeded
                            } catch PaymentError.conflict(_) {
                                return false
                            }
                        }()
                        async let closed = close(order) == nil
                        return (try await charge, try await closed)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(outcomes.count == 12)
            #expect(outcomes.allSatisfy { $0.charged != $0.closed }, "\(outcomes)")
            let charged = outcomes.filter(\.charged).count
            #expect(try await harness.count("SELECT COUNT(*) AS n FROM test_network_intents") == charged + 1)
            #expect(try await harness.count("SELECT COUNT(*) AS n FROM payments WHERE order_id LIKE 'order-race-%'") == 12)
        }
    }

    /// The acceptance test of the issue: refunds racing each other never exceed the capture.
    @Test(arguments: kinds)
    func manyConcurrentRefundsNeverExceedWhatWasCaptured(_ kind: DatabaseKind) async throws {
        try await with(kind) { harness in
            let payment = try await harness.charge("order-5", amount: 1000)
            let outcomes = await withTaskGroup(of: Bool.self) { group in
                for index in 0..<30 {
                    group.addTask {
                        let refund = try? await harness.payments.refund(
                            payment.id,
                            amount: 100,
                            reason: "racing \(index)",
                            idempotencyKey: "r-\(index)"
                        )
                        return refund?.status == .succeeded
                    }
                }
                return await group.reduce(into: 0) { $0 += $1 ? 1 : 0 }
            }
            // A refund whose answer was slow under load stays pending until the reconciler
            // repeats it with its key; then exactly ten have gone through.
            #expect(outcomes <= 10)
            try await harness.payments.reconcile()
            #expect(try await harness.count("SELECT COUNT(*) AS n FROM payment_refunds WHERE status = 'succeeded'") == 10)
            let after = try #require(try await harness.store.payment(id: payment.id))
            #expect(after.amountRefunded == 1000)
            #expect(after.refundPending == 0)
            try await harness.checkBooks(payment.id)
            let networkRefunded = try await harness.count("SELECT amount_refunded AS n FROM test_network_intents")
            #expect(networkRefunded == 1000)
            #expect(try await harness.count("SELECT COUNT(*) AS n FROM outbox WHERE type = 'payment.refunded'") == 10)
            // A key that went through answers the same refund, and nothing is left. Which ten
            // went through is the race's to decide (under load, "r-0" may be one refused).
            let winner = try await harness.count(
                "SELECT CAST(SUBSTR(reason, 8) AS INTEGER) AS n FROM payment_refunds WHERE status = 'succeeded' ORDER BY seq LIMIT 1"
            )
            let again = try await harness.payments.refund(payment.id, amount: 100, reason: "racing \(winner)", idempotencyKey: "r-\(winner)")
            #expect(again.paymentID == payment.id)
            await #expect(throws: PaymentError.self) {
                _ = try await harness.payments.refund(payment.id, amount: 1, reason: "one more", idempotencyKey: "r-x")
            }
        }
    }

    @Test(arguments: kinds)
    func racingFirstRequestsForOneOrderChargeItOnce(_ kind: DatabaseKind) async throws {
        try await with(kind) { harness in
            let results = await withTaskGroup(of: String?.self) { group in
                for index in 0..<12 {
                    group.addTask { try? await harness.charge("order-6", key: "key-\(index % 3)").id }
                }
                return await group.reduce(into: [String?]()) { $0.append($1) }
            }
            #expect(Set(results.compactMap { $0 }).count == 1)
            let charges = try await harness.count("SELECT COUNT(*) AS n FROM test_network_intents")
            let rows = try await harness.count("SELECT COUNT(*) AS n FROM payments")
            #expect(charges == 1)
            #expect(rows == 1)
        }
    }

    /// A process killed after the provider charged and before the service committed: the
    /// reconciler finds the charge by its attempt key and books it once.
    @Test(arguments: kinds)
    func aChargeWhoseAnswerWasLostIsFoundAndBookedOnce(_ kind: DatabaseKind) async throws {
        try await with(kind) { harness in
            let recorded = try await harness.recordOnly("order-7")
            try await harness.chargeAtNetwork(recorded)
            #expect(try await harness.store.payment(id: recorded.id)?.status == .processing)
            #expect(try await harness.payments.reconcile() >= 1)
            #expect(try await harness.payments.reconcile() == 0)
            let settled = try #require(try await harness.store.payment(id: recorded.id))
            #expect(settled.status == .succeeded)
            #expect(settled.pendingAction == nil)
            try await harness.checkBooks(recorded.id)
            #expect(try await harness.store.ledger(of: recorded.id)[.capture] == 1000)
            #expect(try await harness.count("SELECT COUNT(*) AS n FROM outbox WHERE type = 'payment.completed'") == 1)
        }
    }

    /// Killed after recording, before the provider heard of it: nothing was taken; the
    /// attempt fails so the customer can try again.
    @Test(arguments: kinds)
    func aChargeThatNeverReachedTheProviderFailsAndMayBeRetried(_ kind: DatabaseKind) async throws {
        try await with(kind, lostAfter: .zero) { harness in
            _ = try await harness.recordOnly("order-8")
            try await harness.payments.reconcile()
            let failed = try #require(try await harness.store.payment(orderID: "order-8"))
            #expect(failed.status == .failed)
            #expect(failed.failure?.code == "processing_error")
            #expect(try await harness.charge("order-8", key: "retry").status == .succeeded)
        }
    }

    /// A card that needs the customer's action settles later; the notice comes twice and
    /// out of order, and the money is booked once.
    @Test(arguments: kinds)
    func aDuplicatedOrLateNoticeBooksTheOutcomeOnce(_ kind: DatabaseKind) async throws {
        try await with(kind) { harness in
            let waiting = try await harness.charge("order-9", Self.card("4000002500003155"))
            #expect(waiting.status == .requiresAction)
            #expect(waiting.nextActionURL != nil)
            try await harness.network.settleDue()
            let notice = ProviderNotice(
                eventID: "evt_1",
                type: "payment_intent.succeeded",
                reference: waiting.providerReference,
                paymentID: waiting.id
            )
            try await harness.payments.settle(notice)
            try await harness.payments.settle(notice)
            try await harness.payments.settle(
                ProviderNotice(eventID: "evt_0", type: "payment_intent.requires_action", reference: nil, paymentID: waiting.id)
            )
            let settled = try #require(try await harness.store.payment(id: waiting.id))
            #expect(settled.status == .succeeded)
            #expect(settled.nextActionURL == nil)
            try await harness.checkBooks(waiting.id)
            #expect(try await harness.count("SELECT COUNT(*) AS n FROM outbox WHERE type = 'payment.completed'") == 1)
            #expect(try await harness.count("SELECT COUNT(*) AS n FROM payment_ledger WHERE kind = 'capture'") == 1)
        }
    }

    /// The slow card answers past the timeout: the payment is `processing`, then settled
    /// by the reconciler once the network has the outcome.
    @Test(arguments: kinds)
    func aSlowProviderLeavesProcessingThenTheReconcilerSettles(_ kind: DatabaseKind) async throws {
        try await with(kind, timeout: .seconds(1), slowDelay: .milliseconds(1500)) { harness in
            let slow = try await harness.charge("order-10", Self.card("4000000000000119"))
            #expect(slow.status == .processing)
            // The network has the outcome 1.5 s after the call; a loaded machine may take
            // longer to get there, so the reconciler is run until it settles (10 s at most).
            var settled = try #require(try await harness.store.payment(id: slow.id))
            for _ in 0..<100 where settled.status == .processing {
                try await Task.sleep(for: .milliseconds(100))
                try await harness.network.settleDue()
                try await harness.payments.reconcile()
                settled = try #require(try await harness.store.payment(id: slow.id))
            }
            #expect(settled.status == .succeeded)
            try await harness.checkBooks(slow.id)
            // Asking again with the same key while it was processing answered the same payment.
            #expect(try await harness.charge("order-10", Self.card("4000000000000119")).id == slow.id)
        }
    }

    @Test(arguments: kinds)
    func anAuthorizationPastItsExpiryIsVoided(_ kind: DatabaseKind) async throws {
        try await with(kind, authorizationTTL: .zero) { harness in
            let held = try await harness.charge("order-11", capture: .manual)
            #expect(held.status == .requiresCapture)
            try await harness.payments.reconcile()
            let voided = try #require(try await harness.store.payment(id: held.id))
            #expect(voided.status == .canceled)
            try await harness.checkBooks(held.id)
            let history = try await harness.store.resource(of: voided).history
            #expect(history.last?.cause == "authorization expired")
        }
    }

    /// A charge given up as never received that turns up at the provider afterwards: the
    /// money is booked on the payment (never left on a failed one), and no second card may
    /// follow it.
    @Test(arguments: kinds)
    func aChargeGivenUpAsLostThatTurnsUpIsBookedAndBlocksASecondCard(_ kind: DatabaseKind) async throws {
        try await with(kind, lostAfter: .zero) { harness in
            let recorded = try await harness.recordOnly("order-12")
            try await harness.payments.reconcile()
            #expect(try await harness.store.payment(id: recorded.id)?.status == .failed)
            let late = try await harness.chargeAtNetwork(recorded)
            try await harness.payments.settle(
                ProviderNotice(eventID: "evt_late", type: "payment_intent.succeeded", reference: late.reference, paymentID: recorded.id)
            )
            let booked = try #require(try await harness.store.payment(id: recorded.id))
            #expect(booked.status == .succeeded)
            #expect(booked.failure == nil)
            #expect(booked.amountCaptured == 1000)
            try await harness.checkBooks(recorded.id)
            await #expect(throws: PaymentError.self) { _ = try await harness.charge("order-12", key: "another-card") }
            let charges = try await harness.count("SELECT COUNT(*) AS n FROM test_network_intents")
            #expect(charges == 1)
        }
    }

    /// A capture done at the provider whose answer was lost: our capture is refused there
    /// (already captured), and the provider's view is booked instead of an error.
    @Test(arguments: kinds)
    func aCaptureRefusedBecauseItWasAlreadyDoneIsBookedFromTheProvider(_ kind: DatabaseKind) async throws {
        try await with(kind) { harness in
            let held = try await harness.charge("order-13", capture: .manual)
            let reference = try #require(held.providerReference)
            _ = try await harness.network.capture(reference: reference, amount: 700, idempotencyKey: "captured-elsewhere")
            let captured = try await harness.payments.capture(held.id, amount: 700)
            #expect(captured.status == .succeeded)
            #expect(captured.amountCaptured == 700)
            #expect(captured.pendingAction == nil)
            try await harness.checkBooks(held.id)
            let completed = try await harness.store.database.read { sql in
                try await sql.raw("SELECT envelope FROM outbox WHERE type = 'payment.completed'").first(decodingColumn: "envelope", as: String.self)
            }
            #expect(completed?.contains(#""amount_captured":700"#) == true, "the event names what was captured")
        }
    }

    /// The same refund sent twice at once (two reconcilers, a retry racing the first
    /// call) is one refund at the network, never a refusal of the second.
    @Test(arguments: kinds)
    func theSameRefundSentTwiceAtOnceIsOneRefundAtTheNetwork(_ kind: DatabaseKind) async throws {
        try await with(kind) { harness in
            let paid = try await harness.charge("order-14")
            let reference = try #require(paid.providerReference)
            let answers = try await withThrowingTaskGroup(of: ProviderRefund.self) { group in
                for _ in 0..<2 {
                    group.addTask { try await harness.network.refund(reference: reference, amount: 1000, reason: "twice", idempotencyKey: "re_same") }
                }
                return try await group.reduce(into: [ProviderRefund]()) { $0.append($1) }
            }
            #expect(Set(answers.map(\.reference)).count == 1)
            #expect(try await harness.count("SELECT amount_refunded AS n FROM test_network_intents") == 1000)
        }
    }

    /// A 3-D Secure step not completed in time: the charge is canceled at the network and
    /// the attempt fails, so another card may follow.
    @Test(arguments: kinds)
    func aRequiredActionNotCompletedInTimeFailsAndAnotherCardMayFollow(_ kind: DatabaseKind) async throws {
        try await with(kind, actionTTL: .zero) { harness in
            let waiting = try await harness.charge("order-15", Self.card("4000002500003155"))
            #expect(waiting.status == .requiresAction)
            try await harness.payments.reconcile()
            let expired = try #require(try await harness.store.payment(id: waiting.id))
            #expect(expired.status == .failed)
            #expect(expired.failure?.code == "authentication_expired")
            #expect(try await harness.count("SELECT COUNT(*) AS n FROM test_network_intents WHERE status = 'canceled'") == 1)
            #expect(try await harness.charge("order-15", key: "another-card").status == .succeeded)
            try await harness.checkBooks(waiting.id)
        }
    }

    @Test(arguments: kinds)
    func aPaymentMethodTheProviderCannotTakeIsRefusedBeforeAnythingIsRecorded(_ kind: DatabaseKind) async throws {
        try await with(kind) { harness in
            await #expect(throws: PaymentError.invalid(field: "payment_method.token", message: "")) {
                do {
                    _ = try await harness.charge("order-16", PaymentMethodBody(token: "pm_unknown"))
                } catch PaymentError.invalid(let field, _) {
                    throw PaymentError.invalid(field: field, message: "")
                }
            }
            let rows = try await harness.count("SELECT COUNT(*) AS n FROM payments")
            #expect(rows == 0)
            let stripe = StripeProvider(secretKey: "sk_test_x", webhookSecret: nil)
            #expect(stripe.refusal(of: Self.visa) != nil, "a card number never goes to Stripe from the server")
            #expect(stripe.refusal(of: PaymentMethodBody(token: "pm_card_visa")) == nil)
        }
    }

    /// Two instances' reconcilers on one database, each with lost answers to settle:
    /// every payment is booked once, whichever claimed it.
    @Test(arguments: kinds)
    func twoReconcilersOnOneDatabaseBookEachLostAnswerOnce(_ kind: DatabaseKind) async throws {
        try await with(kind) { harness in
            var ids: [String] = []
            for index in 0..<20 {
                let recorded = try await harness.recordOnly("order-r\(index)", amount: 500)
                try await harness.chargeAtNetwork(recorded)
                ids.append(recorded.id)
            }
            let other = Payments(
                store: PaymentStore(database: harness.store.database),
                provider: harness.network,
                timeout: .seconds(30),
                authorizationTTL: .seconds(3600),
                reconcileAfter: .zero,
                lostAfter: .seconds(3600),
                actionTTL: .seconds(3600),
                breaker: nil,
                logger: TestDatabases.logger,
                now: { Date() }
            )
            async let first = harness.payments.reconcile()
            async let second = other.reconcile()
            let looked = try await first + second
            #expect(looked >= 20)
            for id in ids {
                #expect(try await harness.store.payment(id: id)?.status == .succeeded)
                try await harness.checkBooks(id)
            }
            let captures = try await harness.count("SELECT COUNT(*) AS n FROM payment_ledger WHERE kind = 'capture'")
            let events = try await harness.count("SELECT COUNT(*) AS n FROM outbox WHERE type = 'payment.completed'")
            #expect(captures == 20)
            #expect(events == 20)
        }
    }

    @Test func invalidInputsAreRefusedFieldByField() throws {
        func problem(_ body: NewPayment) -> String? {
            do {
                _ = try Payments.validated(body, now: Date())
                return nil
            } catch let error as APIError {
                return error.main.field
            } catch {
                return "?"
            }
        }
        let good = NewPayment(orderID: "o-1", customerID: 1, amount: 100, currency: "EUR", paymentMethod: Self.visa)
        #expect(problem(good) == nil)
        var body = good
        body.amount = 0
        #expect(problem(body) == "amount")
        body = good
        body.currency = "eur"
        #expect(problem(body) == "currency")
        body = good
        body.orderID = String(repeating: "x", count: 129)
        #expect(problem(body) == "order_id")
        body = good
        body.paymentMethod = Self.card("4242424242424241")
        #expect(problem(body) == "payment_method.card.number")
        body.paymentMethod = PaymentMethodBody(card: CardBody(number: "4242424242424242", expMonth: 13, expYear: 2030))
        #expect(problem(body) == "payment_method.card.exp_month")
        body.paymentMethod = PaymentMethodBody()
        #expect(problem(body) == "payment_method")
        body.paymentMethod = PaymentMethodBody(token: "pm_card_visa", card: CardBody(number: "4242424242424242", expMonth: 1, expYear: 2030))
        #expect(problem(body) == "payment_method")
    }

    @Test func cardNumbersAreLuhnCheckedAndNeverPrinted() {
        #expect(CardNumber("4242 4242 4242 4242")?.brand == "visa")
        #expect(CardNumber("5555-5555-5555-4444")?.brand == "mastercard")
        #expect(CardNumber("378282246310005")?.brand == "amex")
        #expect(CardNumber("4242424242424241") == nil)
        #expect(CardNumber("4242x24242424242") == nil)
        #expect(CardNumber("42") == nil)
        let method = Self.visa
        #expect(!"\(method)".contains("4242 4242"))
        #expect(!String(reflecting: method).contains("424242424242"))
    }
}
