import Foundation
import OrderAPI
import PaymentAPI
import Platform
import ProductAPI
import ServiceLifecycle
import Synchronization
import TestSupport
import Testing
import UserAPI

@testable import NotificationService

/// From event to delivery log, against real SQLite and PostgreSQL: what is queued for whom,
/// what is sent, retried, given up, and never sent twice.
@Suite struct NotificationFlowTests {
    static let kinds = TestDatabases.kinds()

    @Test(arguments: kinds)
    func aConfirmedOrderSendsOneReceiptInTheCustomersLanguageEvenWhenTheEventComesTwice(kind: DatabaseKind) async throws {
        try await NotificationHarness.with(kind) { harness in
            try await harness.deliver(UserRegistered(userID: 7, email: "anna@example.com", name: "Anna", role: "customer"))
            try await harness.deliver(
                UserPreferencesChanged(userID: 7, marketingEmails: false, orderEmails: true, sms: false, push: false, locale: "de-CH")
            )
            let confirmed = OrderConfirmed(NotificationHarness.order(customerID: 7, email: "anna@example.com"))

            let first = try await harness.deliver(confirmed)
            try await harness.deliver(confirmed, id: first.id)
            try await harness.dispatcher.dispatchDue()
            try await harness.dispatcher.dispatchDue()

            let receipts = harness.mail.sent.filter { $0.subject.contains("ord_000000000000000000000001") }
            #expect(receipts.count == 1)
            #expect(receipts.first?.subject == "Ihre Bestellung ord_000000000000000000000001 ist bestätigt")
            #expect(receipts.first?.text.contains("2 x Mug & Saucer (MUG-1)  12.50 EUR  = 25.00 EUR") == true)
            // The HTML part escapes what the text part shows as it is.
            #expect(receipts.first?.html?.contains("Mug &amp; Saucer") == true)
            let unsubscribe = receipts.first?.extraHeaders.first { $0.name == "List-Unsubscribe" }?.value
            #expect(unsubscribe?.hasPrefix("<https://shop.test/api/v1/unsubscribe?token=") == true)
            #expect(receipts.first?.extraHeaders.contains { $0.name == "List-Unsubscribe-Post" && $0.value == "List-Unsubscribe=One-Click" } == true)
        }
    }

    @Test(arguments: kinds)
    func aCustomerWhoOptedOutOfOrderMailsGetsNoneButAGuestAlwaysGetsTheirs(kind: DatabaseKind) async throws {
        try await NotificationHarness.with(kind) { harness in
            try await harness.deliver(UserRegistered(userID: 8, email: "ben@example.com", name: "Ben", role: "customer"))
            try await harness.deliver(
                UserPreferencesChanged(userID: 8, marketingEmails: false, orderEmails: false, sms: false, push: false, locale: "en")
            )

            try await harness.deliver(
                OrderConfirmed(NotificationHarness.order("ord_000000000000000000000008", customerID: 8, email: "ben@example.com"))
            )
            try await harness.deliver(OrderConfirmed(NotificationHarness.order("ord_000000000000000000000009", email: "guest@example.com")))
            try await harness.dispatcher.dispatchDue()

            let receipts = harness.mail.sent.filter { $0.subject.hasSuffix("is confirmed") }
            #expect(receipts.map(\.to.address) == ["guest@example.com"])
            // Ben still got his welcome: it is about his account, not his orders.
            let queued = try await harness.all().map { "\($0.kind) \($0.target)" }
            #expect(queued.sorted() == ["order_confirmed guest@example.com", "welcome ben@example.com"])
        }
    }

    @Test(arguments: kinds)
    func preferencesThatArriveLateDoNotUndoALaterChoice(kind: DatabaseKind) async throws {
        try await NotificationHarness.with(kind) { harness in
            let now = Date()
            try await harness.deliver(UserRegistered(userID: 9, email: "cleo@example.com", name: "Cleo", role: "customer"))
            try await harness.deliver(
                UserPreferencesChanged(userID: 9, marketingEmails: false, orderEmails: false, sms: false, push: false, locale: "en"),
                at: now
            )
            try await harness.deliver(
                UserPreferencesChanged(userID: 9, marketingEmails: false, orderEmails: true, sms: false, push: false, locale: "de"),
                at: now.addingTimeInterval(-60)
            )

            let kept = try await harness.database.read { try await harness.store.recipient(userID: 9, in: $0) }
            #expect(kept?.orderEmails == false)
            #expect(kept?.locale == "en")
        }
    }

    @Test(arguments: kinds)
    func aTransientFailureIsRetriedAndTheLastOneLeavesTheMessageDeadForAReplay(kind: DatabaseKind) async throws {
        try await NotificationHarness.with(kind, maxAttempts: 3) { harness in
            harness.mail.fail("slow@example.com", with: [.transient("421 busy"), .transient("421 busy"), .transient("421 busy")])
            harness.mail.fail("later@example.com", with: [.transient("451 try later")])
            harness.mail.fail("nobody@example.com", with: [.permanent("550 no such user")])
            for (index, address) in ["slow@example.com", "later@example.com", "nobody@example.com"].enumerated() {
                try await harness.deliver(OrderConfirmed(NotificationHarness.order("ord_00000000000000000000001\(index)", email: address)))
            }

            for _ in 0..<4 { try await harness.dispatcher.dispatchDue() }

            let byTarget = Dictionary(uniqueKeysWithValues: try await harness.all().map { ($0.target, $0) })
            #expect(byTarget["later@example.com"]?.status == .sent)
            #expect(byTarget["later@example.com"]?.attempts == 2)
            #expect(byTarget["slow@example.com"]?.status == .dead)
            #expect(byTarget["slow@example.com"]?.attempts == 3)
            #expect(byTarget["nobody@example.com"]?.status == .dead)
            #expect(byTarget["nobody@example.com"]?.attempts == 1)
            let log = try await harness.store.attempts(of: try #require(byTarget["slow@example.com"]).id)
            #expect(log.map(\.outcome) == ["transient", "transient", "transient"])

            let dead = try #require(byTarget["slow@example.com"])
            let replayed = try await harness.store.replay(id: dead.id, allowing: [.dead], at: Date())
            #expect(replayed?.status == .queued)
            try await harness.dispatcher.dispatchDue()
            #expect(try await harness.store.notification(id: dead.id)?.status == .sent)
            #expect(harness.mail.sent.filter { $0.to.address == "slow@example.com" }.count == 1)
        }
    }

    @Test(arguments: kinds)
    func aSenderThatDiedMidSendIsSucceededAfterItsLeaseWithTheSameMessageID(kind: DatabaseKind) async throws {
        try await NotificationHarness.with(kind) { harness in
            try await harness.deliver(OrderConfirmed(NotificationHarness.order(email: "dana@example.com")))
            let now = Date()
            // A sender claims it and is never heard of again.
            let claimed = try await harness.store.claimDue(now: now, until: now.addingTimeInterval(0.2), limit: 10)
            #expect(claimed.count == 1)
            #expect(try await harness.store.claimDue(now: now, until: now.addingTimeInterval(60), limit: 10).isEmpty)

            try await Task.sleep(for: .milliseconds(300))
            try await harness.dispatcher.dispatchDue()
            // The dead sender's late record does not overwrite its successor's.
            let late = try await harness.store.record(
                try #require(claimed.first),
                startedAt: now,
                finishedAt: Date(),
                outcome: .failure(.transient("timeout")),
                retryAt: Date(),
                subject: nil
            )

            #expect(late == nil)
            let after = try #require(try await harness.all().first)
            #expect(after.status == .sent)
            #expect(after.attempts == 2)
            #expect(harness.mail.sent.first?.messageID == after.id + "@shop.test")
        }
    }

    @Test(arguments: kinds)
    func aPaymentFailureIsWrittenToTheOrdersAddressAndWaitsForIt(kind: DatabaseKind) async throws {
        try await NotificationHarness.with(kind) { harness in
            let orderID = "ord_000000000000000000000020"
            let payment = PaymentEventData(
                paymentID: "pay_000000000000000000000020",
                orderID: orderID,
                customerID: nil,
                amount: 2500,
                currency: "EUR",
                status: .failed,
                amountCaptured: 0
            )
            let failed = PaymentFailed(payment, failure: PaymentFailure(code: "card_declined", message: "The card was declined"))
            await #expect(throws: NotificationConsumer.ContactNotYetKnown.self) {
                try await harness.deliver(failed)
            }

            try await harness.deliver(OrderCreated(NotificationHarness.order(orderID, email: "eve@example.com", locale: "en")))
            try await harness.deliver(failed)
            try await harness.dispatcher.dispatchDue()

            #expect(harness.mail.sent.map(\.to.address) == ["eve@example.com"])
            #expect(harness.mail.sent.first?.text.contains("The card was declined") == true)
        }
    }

    @Test(arguments: kinds)
    func aCancellationIsWrittenOnlyForAnOrderTheCustomerWasToldIsConfirmed(kind: DatabaseKind) async throws {
        try await NotificationHarness.with(kind) { harness in
            let neverConfirmed = NotificationHarness.order("ord_000000000000000000000030", email: "fay@example.com")
            let confirmed = NotificationHarness.order("ord_000000000000000000000031", email: "fay@example.com")
            try await harness.deliver(OrderCancelled(neverConfirmed))
            try await harness.deliver(OrderConfirmed(confirmed))
            try await harness.deliver(OrderCancelled(confirmed))
            try await harness.dispatcher.dispatchDue()

            #expect(try await harness.all().map(\.kind).sorted() == ["order_cancelled", "order_confirmed"])
            #expect(try await harness.all().allSatisfy { $0.orderID == confirmed.orderID })
        }
    }

    @Test(arguments: kinds)
    func lowStockGoesToEveryStaffAddress(kind: DatabaseKind) async throws {
        try await NotificationHarness.with(kind, staff: ["ops@shop.test", "buyer@shop.test"]) { harness in
            try await harness.deliver(InventoryLowStock(productID: 42, available: 3, threshold: 5))
            try await harness.dispatcher.dispatchDue()

            #expect(harness.mail.sent.map(\.to.address).sorted() == ["buyer@shop.test", "ops@shop.test"])
            #expect(harness.mail.sent.first?.subject == "Low stock: product 42 has 3 left")
        }
    }

    @Test(arguments: kinds)
    func aDeletedUserIsForgottenAndNothingMoreIsSentToThem(kind: DatabaseKind) async throws {
        try await NotificationHarness.with(kind) { harness in
            try await harness.deliver(UserRegistered(userID: 10, email: "gus@example.com", name: "Gus", role: "customer"))
            try await harness.deliver(UserDeleted(userID: 10))
            try await harness.dispatcher.dispatchDue()

            #expect(harness.mail.sent.isEmpty)
            let kept = try #require(try await harness.all().first)
            #expect(kept.status == .dead)
            #expect(kept.target.hasPrefix("forgotten:"))
            #expect(kept.data == "{}")
            #expect(try await harness.database.read { try await harness.store.recipient(userID: 10, in: $0) } == nil)
        }
    }

    @Test(arguments: kinds)
    func aWebhookGoesToEverySubscribedEndpointWithOneIDAcrossRetriesAndA410DisablesItsEndpoint(kind: DatabaseKind) async throws {
        try await NotificationHarness.with(kind, maxAttempts: 5) { harness in
            let orders = try await harness.endpoints.create(
                url: "https://erp.example.com/hooks",
                description: "ERP",
                eventTypes: ["order.confirmed"],
                secret: WebhookSignature.generateSecret(),
                at: Date()
            )
            _ = try await harness.endpoints.create(
                url: "https://stock.example.com/hooks",
                description: "stock only",
                eventTypes: ["inventory.low_stock"],
                secret: WebhookSignature.generateSecret(),
                at: Date()
            )
            harness.webhooks.fail(with: [.transient("503 Service Unavailable")])
            try await harness.deliver(OrderConfirmed(NotificationHarness.order(email: "hal@example.com")))

            try await harness.dispatcher.dispatchDue()
            try await harness.dispatcher.dispatchDue()

            let sent = harness.webhooks.sent
            #expect(sent.count == 1)
            #expect(sent.first?.url == "https://erp.example.com/hooks")
            let delivery = try #require(try await harness.all().first { $0.channel == .webhook })
            #expect(sent.first?.id == delivery.id)
            #expect(delivery.attempts == 2)
            let body = try JSONSerialization.jsonObject(with: Data(try #require(sent.first).body)) as? [String: Any]
            #expect(body?["type"] as? String == "order.confirmed")
            #expect((body?["data"] as? [String: Any])?["order"] != nil)

            harness.webhooks.fail(with: [.gone("410 Gone")])
            try await harness.deliver(OrderConfirmed(NotificationHarness.order("ord_000000000000000000000041", email: "hal@example.com")))
            try await harness.dispatcher.dispatchDue()
            #expect(try await harness.endpoints.endpoint(id: orders.id)?.enabled == false)
            try await harness.deliver(OrderConfirmed(NotificationHarness.order("ord_000000000000000000000042", email: "hal@example.com")))
            #expect(try await harness.all().filter { $0.channel == .webhook }.count == 2)
        }
    }

    /// A payment's events go to webhooks only: with no endpoint for them, nothing is written.
    @Test(arguments: kinds)
    func anEventOnlyWebhooksTakeIsHandledOnlyWhenAnEndpointSubscribes(kind: DatabaseKind) async throws {
        try await NotificationHarness.with(kind) { harness in
            func completed(_ orderID: String) -> PaymentCompleted {
                PaymentCompleted(
                    PaymentEventData(
                        paymentID: "pay_\(orderID)",
                        orderID: orderID,
                        customerID: 7,
                        amount: 2000,
                        currency: "EUR",
                        status: .succeeded,
                        amountCaptured: 2000
                    )
                )
            }
            func inbox() async throws -> Int {
                try await harness.database.read { sql in
                    try await sql.raw("SELECT COUNT(*) AS n FROM processed_events").first(decodingColumn: "n", as: Int.self) ?? 0
                }
            }
            let before = try await inbox()
            try await harness.deliver(completed("ord_000000000000000000000051"))
            #expect(try await inbox() == before, "no endpoint takes payment.completed: nothing is recorded")
            _ = try await harness.endpoints.create(
                url: "https://erp.example.com/payments",
                description: "ERP",
                eventTypes: ["payment.completed"],
                secret: WebhookSignature.generateSecret(),
                at: Date()
            )
            let event = try await harness.deliver(completed("ord_000000000000000000000052"))
            #expect(try await inbox() == before + 1)
            try await harness.deliver(completed("ord_000000000000000000000052"), id: event.id)
            #expect(try await inbox() == before + 1, "handled once")
            let webhooks = try await harness.all().filter { $0.channel == .webhook }
            #expect(webhooks.map(\.kind) == ["payment.completed"])
        }
    }

    @Test(arguments: kinds)
    func anUnsubscribeLinkTurnsOrderMailOffWithoutALogin(kind: DatabaseKind) async throws {
        try await NotificationHarness.with(kind) { harness in
            try await harness.deliver(UserRegistered(userID: 11, email: "ida@example.com", name: "Ida", role: "customer"))
            let token = UnsubscribeToken(userID: 11, topic: .orders).signed(with: NotificationHarness.key)
            let parsed = try #require(UnsubscribeToken(verifying: token, with: NotificationHarness.key))

            try await harness.store.unsubscribe(userID: parsed.userID, from: parsed.topic, at: Date())
            try await harness.store.unsubscribe(userID: parsed.userID, from: parsed.topic, at: Date())
            // Told to Users once: the second click changed nothing.
            let told = try await harness.database.read { sql in
                try await sql.raw("SELECT COUNT(*) AS n FROM outbox WHERE type = 'notification.unsubscribed'").first(
                    decodingColumn: "n",
                    as: Int.self
                )
            }
            #expect(told == 1)
            try await harness.deliver(OrderConfirmed(NotificationHarness.order(customerID: 11, email: "ida@example.com")))

            #expect(try await harness.all().map(\.kind) == ["welcome"])
            // A token changed by one character, or signed with another key, says nothing.
            #expect(UnsubscribeToken(verifying: String(token.dropLast()) + (token.hasSuffix("A") ? "B" : "A"), with: NotificationHarness.key) == nil)
            #expect(UnsubscribeToken(verifying: token, with: .init(size: .bits256)) == nil)
        }
    }
}

/// A graceful stop while a message is with the mail server.
@Suite struct DispatchShutdownTests {
    /// A mail server that takes a while to answer the end of a message.
    final class SlowMail: MailTransport {
        let started = Mutex(0)
        let finished = Mutex(0)

        func send(_ message: MailMessage) async throws -> String {
            started.withLock { $0 += 1 }
            try await Task.sleep(for: .milliseconds(800))
            finished.withLock { $0 += 1 }
            return "250 2.0.0 queued"
        }
    }

    @Test func aGracefulStopFinishesTheSendInFlightAndRecordsIt() async throws {
        try await NotificationHarness.with(.sqlite) { harness in
            let mail = SlowMail()
            let dispatcher = Dispatcher(
                store: harness.store,
                endpoints: harness.endpoints,
                contacts: harness.contacts,
                templates: try TemplateLibrary(),
                mail: mail,
                webhooks: nil,
                sms: harness.sms,
                push: harness.push,
                codes: NotificationHarness.codes,
                settings: harness.dispatcher.settings,
                metrics: nil,
                logger: TestDatabases.logger,
                now: { Date() }
            )
            try await harness.deliver(OrderConfirmed(NotificationHarness.order(email: "jo@example.com")))
            let group = ServiceGroup(
                services: [DispatchService(dispatcher: dispatcher, interval: .milliseconds(20), logger: TestDatabases.logger)],
                logger: TestDatabases.logger
            )

            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                while mail.started.withLock({ $0 }) == 0 { try await Task.sleep(for: .milliseconds(10)) }
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
            }

            #expect(mail.finished.withLock { $0 } == 1, "the send was not cut off")
            let after = try #require(try await harness.all().first)
            #expect(after.status == .sent)
            #expect(after.attempts == 1)
        }
    }
}
