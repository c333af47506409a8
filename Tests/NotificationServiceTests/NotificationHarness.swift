import Crypto
import Foundation
import Logging
import OrderAPI
import PaymentAPI
import Platform
import Synchronization
import TestSupport
import UserAPI

@testable import NotificationService

/// A mail transport that keeps what it was given and answers as scripted (by address).
final class RecordingMail: MailTransport {
    private let state = Mutex<(sent: [MailMessage], failures: [String: [DeliveryFailure]])>(([], [:]))

    /// The next sends to `address` fail with `failures`, one each, in order.
    func fail(_ address: String, with failures: [DeliveryFailure]) {
        state.withLock { $0.failures[address, default: []] += failures }
    }

    var sent: [MailMessage] { state.withLock { $0.sent } }

    func send(_ message: MailMessage) async throws -> String {
        try state.withLock { state in
            if var queue = state.failures[message.to.address], !queue.isEmpty {
                let failure = queue.removeFirst()
                state.failures[message.to.address] = queue
                throw failure
            }
            state.sent.append(message)
            return "250 2.0.0 queued as \(state.sent.count)"
        }
    }
}

/// A webhook transport that keeps the deliveries and answers as scripted.
final class RecordingWebhooks: WebhookTransport {
    private let state = Mutex<(sent: [WebhookDelivery], failures: [DeliveryFailure])>(([], []))

    func fail(with failures: [DeliveryFailure]) { state.withLock { $0.failures += failures } }
    var sent: [WebhookDelivery] { state.withLock { $0.sent } }

    func send(_ delivery: WebhookDelivery, at timestamp: Date) async throws -> String {
        try state.withLock { state in
            if !state.failures.isEmpty { throw state.failures.removeFirst() }
            state.sent.append(delivery)
            return "200 OK"
        }
    }
}

/// An SMS or push transport that keeps what it was given and answers as scripted (in order).
final class RecordingMessages<Message: Sendable>: SMSTransport, PushTransport, @unchecked Sendable {
    private let state = Mutex<(sent: [Message], failures: [DeliveryFailure])>(([], []))

    func fail(with failures: [DeliveryFailure]) { state.withLock { $0.failures += failures } }
    var sent: [Message] { state.withLock { $0.sent } }

    private func take(_ message: Message) throws -> String {
        try state.withLock { state in
            if !state.failures.isEmpty { throw state.failures.removeFirst() }
            state.sent.append(message)
            return "accepted \(state.sent.count)"
        }
    }

    func send(_ message: SMSMessage) async throws -> String {
        guard let message = message as? Message else { throw DeliveryFailure.permanent("not an SMS transport") }
        return try take(message)
    }

    func send(_ message: PushMessage) async throws -> String {
        guard let message = message as? Message else { throw DeliveryFailure.permanent("not a push transport") }
        return try take(message)
    }
}

/// The service's parts on a migrated database, with recording transports and retries
/// that are due at once.
struct NotificationHarness: Sendable {
    let database: any Database
    let store: NotificationStore
    let endpoints: WebhookEndpointStore
    let consumer: NotificationConsumer
    let dispatcher: Dispatcher
    let mail: RecordingMail
    let webhooks: RecordingWebhooks
    let contacts: ContactStore
    let sms: RecordingMessages<SMSMessage>
    let push: RecordingMessages<PushMessage>
    static let codes = VerificationCode(key: SymmetricKey(data: Array(repeating: UInt8(9), count: 32)))
    static let key = SymmetricKey(data: Array(repeating: UInt8(7), count: 32))

    static func with(
        _ kind: DatabaseKind,
        maxAttempts: Int = 3,
        staff: [String] = [],
        _ body: @Sendable (NotificationHarness) async throws -> Void
    ) async throws {
        try await TestDatabases.with(kind) { database in
            try await Migrator(NotificationService.migrations, logger: TestDatabases.logger).migrate(database)
            let store = NotificationStore(database: database)
            let endpoints = WebhookEndpointStore(database: database)
            let (mail, webhooks) = (RecordingMail(), RecordingWebhooks())
            let (sms, push) = (RecordingMessages<SMSMessage>(), RecordingMessages<PushMessage>())
            let contacts = ContactStore(store: store)
            var settings = Dispatcher.Settings(
                from: try MailAddress("no-reply@shop.test", displayName: "Shop"),
                shopName: "Test Shop",
                publicBaseURL: "https://shop.test",
                unsubscribeKey: key
            )
            // Retries are due at once (a wait of zero is refused, so a microsecond).
            settings.emailRetry = WebhookRetrySchedule(waits: [.microseconds(1)], maxAttempts: maxAttempts, jitter: 0)
            settings.webhookRetry = WebhookRetrySchedule(waits: [.microseconds(1)], maxAttempts: maxAttempts, jitter: 0)
            let dispatcher = Dispatcher(
                store: store,
                endpoints: endpoints,
                contacts: contacts,
                templates: try TemplateLibrary(),
                mail: mail,
                webhooks: webhooks,
                sms: sms,
                push: push,
                codes: codes,
                settings: settings,
                metrics: nil,
                logger: TestDatabases.logger,
                now: { Date() }
            )
            try await body(
                NotificationHarness(
                    database: database,
                    store: store,
                    endpoints: endpoints,
                    consumer: NotificationConsumer(store: store, contacts: contacts, endpoints: endpoints, staffAddresses: staff, metrics: nil),
                    dispatcher: dispatcher,
                    mail: mail,
                    webhooks: webhooks,
                    contacts: contacts,
                    sms: sms,
                    push: push
                )
            )
        }
    }

    /// Delivers `event` to the consumer as the bus would (through the inbox).
    @discardableResult
    func deliver<Event: DomainEvent>(_ event: Event, id: String? = nil, at time: Date = Date()) async throws -> EventEnvelope {
        let envelope = try EventEnvelope(event, source: "/tests", time: time, requestID: nil)
        let sent = id.map {
            EventEnvelope(id: $0, type: envelope.type, source: envelope.source, time: envelope.time, data: envelope.data, requestID: nil)
        }
        try await Inbox.handle(sent ?? envelope, by: consumer.consumer(database: database), now: Date())
        return sent ?? envelope
    }

    /// Every notification, oldest first.
    func all() async throws -> [NotificationRecord] {
        try await store.list(
            ListQuery(pagination: .page(number: 1, perPage: 100), sort: SortOrder(.createdAt)),
            filter: NotificationStore.Filter()
        ).items
    }

    static func order(
        _ id: String = "ord_000000000000000000000001",
        customerID: Int64? = nil,
        email: String = "buyer@example.com",
        locale: String = "en"
    ) -> OrderEventData {
        let line = OrderLineResource(
            productID: 1,
            sku: "MUG-1",
            name: "Mug & Saucer",
            quantity: 2,
            unitPrice: Amount(amount: 1250, currency: "EUR"),
            lineTotal: Amount(amount: 2500, currency: "EUR")
        )
        return OrderEventData(
            orderID: id,
            status: .confirmed,
            customerID: customerID,
            email: email,
            locale: locale,
            lines: [line],
            subtotal: Amount(amount: 2500, currency: "EUR"),
            total: Amount(amount: 2500, currency: "EUR"),
            amountRefunded: Amount(amount: 0, currency: "EUR"),
            trackingNumber: nil,
            carrier: nil,
            reason: nil
        )
    }
}
