import Foundation
import OrderAPI
import PaymentAPI
import Platform
import ProductAPI
import SQLKit
import UserAPI

/// Turns events into notifications: keeps the copy of each user it needs (address, name,
/// language, choices), and queues one notification per message, channel and target in the
/// same transaction as the event's inbox record. Nothing is sent here: the dispatcher sends
/// what is queued, so a slow mail server never holds up the event bus.
struct NotificationConsumer: Sendable {
    let store: NotificationStore
    let contacts: ContactStore
    let endpoints: WebhookEndpointStore
    /// Where stock alerts go.
    let staffAddresses: [String]
    let metrics: ShopMetrics?

    /// A payment failed for an order whose address has not arrived yet (its `order.created`
    /// travels from another service's outbox): the bus tries again shortly.
    struct ContactNotYetKnown: Error, CustomStringConvertible {
        let orderID: String
        var description: String { "no address known yet for order \(orderID)" }
    }

    /// How long a payment failure waits for its order's address before it is given up.
    static let contactWait: TimeInterval = 60

    static let personTypes: Set<String> = [
        UserRegistered.type, UserUpdated.type, UserPreferencesChanged.type, UserDeleted.type,
        OrderCreated.type, OrderConfirmed.type, OrderShipped.type, OrderCancelled.type, OrderRefunded.type,
        PaymentFailed.type, InventoryLowStock.type,
    ]

    func consumer(database: any Database) -> EventConsumer {
        EventConsumer(
            name: "notifications",
            types: Self.personTypes.union(WebhookEndpoint.eventTypes),
            database: database,
            maxAttempts: 8,
            // An event that only webhooks take (a payment's, say) concerns Notifications when
            // an enabled endpoint subscribes to it; otherwise it is acknowledged after a read,
            // with nothing written. An endpoint takes the events handled after it was made,
            // as before.
            concerns: { [endpoints] event in
                if Self.personTypes.contains(event.type) { return true }
                return try await endpoints.hasSubscribers(of: event.type)
            }
        ) { event, sql in
            try await handle(event, in: sql)
        }
    }

    func handle(_ event: EventEnvelope, in sql: any SQLDatabase) async throws {
        let now = Date()
        var queued: [NewNotification] = []
        switch event.type {
        case UserRegistered.type:
            let user = try event.decode(UserRegistered.self)
            try await store.saveContact(userID: user.userID, email: user.email, name: user.name, at: event.time, in: sql)
            let recipient = try await store.recipient(userID: user.userID, in: sql)
            var context = MessageContext(name: user.name, email: user.email)
            context.email = user.email
            queued += try email(.welcome, to: recipient, fallback: nil, context: context)
        case UserUpdated.type:
            let user = try event.decode(UserUpdated.self)
            try await store.saveContact(userID: user.userID, email: user.email, name: user.name, at: event.time, in: sql)
        case UserPreferencesChanged.type:
            let choice = try event.decode(UserPreferencesChanged.self)
            let known = try await store.recipient(userID: choice.userID, in: sql)
            try await store.savePreferences(
                Recipient(
                    userID: choice.userID,
                    email: known?.email ?? "",
                    name: known?.name ?? "",
                    locale: choice.locale,
                    orderEmails: choice.orderEmails,
                    marketingEmails: choice.marketingEmails,
                    sms: choice.sms,
                    push: choice.push
                ),
                chosenAt: event.time,
                in: sql
            )
        case UserDeleted.type:
            try await store.forget(userID: try event.decode(UserDeleted.self).userID, at: now, in: sql)
        case OrderCreated.type:
            let order = try event.decode(CreatedOrderContact.self).order
            try await store.saveOrderContact(
                orderID: order.orderID,
                customerID: order.customerID,
                email: order.email,
                locale: order.locale,
                at: event.time,
                in: sql
            )
        case OrderConfirmed.type:
            queued += try await orderEmail(.orderConfirmed, try event.decode(OrderConfirmed.self).order, in: sql)
        case OrderShipped.type:
            queued += try await orderEmail(.orderShipped, try event.decode(OrderShipped.self).order, in: sql)
        case OrderRefunded.type:
            queued += try await orderEmail(.orderRefunded, try event.decode(OrderRefunded.self).order, in: sql)
        case OrderCancelled.type:
            let order = try event.decode(OrderCancelled.self).order
            // A checkout that never went through was answered on the spot; only an order
            // the customer was told is confirmed gets a letter saying it is cancelled.
            let confirmed = try await sql.raw(
                "SELECT 1 AS one FROM notifications WHERE order_id = \(bind: order.orderID) AND kind = \(bind: NotificationKind.orderConfirmed.rawValue)"
            ).first()
            if confirmed != nil { queued += try await orderEmail(.orderCancelled, order, in: sql) }
        case PaymentFailed.type:
            queued += try await paymentFailure(try event.decode(PaymentFailed.self), event: event, now: now, in: sql)
        case InventoryLowStock.type:
            let low = try event.decode(InventoryLowStock.self)
            var context = MessageContext()
            (context.productID, context.available, context.threshold) = (low.productID, low.available, low.threshold)
            let data = try context.encoded()
            queued += staffAddresses.map {
                NewNotification(kind: NotificationKind.lowStock.rawValue, channel: .email, target: $0, locale: "en", data: data)
            }
        default:
            break
        }
        if WebhookEndpoint.eventTypes.contains(event.type) {
            let body = Self.webhookBody(event)
            queued += try await endpoints.subscribers(of: event.type, in: sql).map {
                NewNotification(kind: event.type, channel: .webhook, target: $0.id, locale: "en", data: body)
            }
        }
        guard !queued.isEmpty else { return }
        try await store.enqueue(queued, for: event, at: now, in: sql)
    }

    /// An e-mail about an order: to a customer unless they opted out of order e-mails, in
    /// their language; to a guest at the order's address, always (it is what they bought).
    private func orderEmail(_ kind: NotificationKind, _ order: OrderEventData, in sql: any SQLDatabase) async throws -> [NewNotification] {
        let recipient = try await order.customerID.asyncMap { try await store.recipient(userID: $0, in: sql) } ?? nil
        var context = MessageContext(name: recipient?.name, email: order.email)
        context.orderID = order.orderID
        context.lines = order.lines.map {
            MessageContext.Line(
                name: $0.name,
                sku: $0.sku,
                quantity: $0.quantity,
                unitPrice: MoneyText.format($0.unitPrice.amount, $0.unitPrice.currency),
                lineTotal: MoneyText.format($0.lineTotal.amount, $0.lineTotal.currency)
            )
        }
        context.subtotal = MoneyText.format(order.subtotal.amount, order.subtotal.currency)
        context.total = MoneyText.format(order.total.amount, order.total.currency)
        if order.amountRefunded.amount > 0 {
            context.amountRefunded = MoneyText.format(order.amountRefunded.amount, order.amountRefunded.currency)
        }
        (context.trackingNumber, context.carrier, context.reason) = (order.trackingNumber, order.carrier, order.reason)
        return try email(
            kind,
            to: recipient,
            fallback: (order.email, order.locale, order.customerID),
            context: context,
            orderID: order.orderID
        ) + (try await phoneAndPush(kind, to: recipient, context: context, orderID: order.orderID, in: sql))
    }

    private func paymentFailure(_ failed: PaymentFailed, event: EventEnvelope, now: Date, in sql: any SQLDatabase) async throws -> [NewNotification] {
        let payment = failed.payment
        let contact = try await store.orderContact(orderID: payment.orderID, in: sql)
        let customerID = contact?.customerID ?? payment.customerID
        let recipient = try await customerID.asyncMap { try await store.recipient(userID: $0, in: sql) } ?? nil
        guard contact != nil || recipient != nil else {
            // The order's address travels in another service's event: a young failure waits
            // for it (the bus tries again); an old one (its order purged, its user deleted)
            // has no one left to write to, and its webhooks still go out.
            if now.timeIntervalSince(event.time) < Self.contactWait { throw ContactNotYetKnown(orderID: payment.orderID) }
            metrics?.recordNotificationSkipped(channel: NotificationChannel.email.rawValue, reason: "no_address")
            return []
        }
        var context = MessageContext(name: recipient?.name, email: contact?.email ?? recipient?.email)
        context.orderID = payment.orderID
        context.total = MoneyText.format(payment.amount, payment.currency)
        context.failureMessage = failed.failure.message
        return try email(
            .paymentFailed,
            to: recipient,
            fallback: contact.map { ($0.email, $0.locale, customerID) },
            context: context,
            orderID: payment.orderID
        ) + (try await phoneAndPush(.paymentFailed, to: recipient, context: context, orderID: payment.orderID, in: sql))
    }

    /// The SMS and pushes for `kind`, where it goes on those channels: to a known user who
    /// turned the channel on, at their verified number and on each of their devices. A
    /// guest is written to by e-mail only.
    private func phoneAndPush(
        _ kind: NotificationKind,
        to recipient: Recipient?,
        context: MessageContext,
        orderID: String?,
        in sql: any SQLDatabase
    ) async throws -> [NewNotification] {
        guard let recipient else { return [] }
        var queued: [NewNotification] = []
        func message(_ channel: NotificationChannel, _ target: String) throws -> NewNotification {
            NewNotification(
                kind: kind.rawValue,
                channel: channel,
                target: target,
                userID: recipient.userID,
                orderID: orderID,
                locale: recipient.locale,
                data: try context.encoded()
            )
        }
        if kind.channels.contains(.sms) {
            if !recipient.sms {
                metrics?.recordNotificationSkipped(channel: NotificationChannel.sms.rawValue, reason: "opted_out")
            } else if let number = try await contacts.usablePhone(userID: recipient.userID, in: sql) {
                queued.append(try message(.sms, number))
            } else {
                metrics?.recordNotificationSkipped(channel: NotificationChannel.sms.rawValue, reason: "no_address")
            }
        }
        if kind.channels.contains(.push) {
            if !recipient.push {
                metrics?.recordNotificationSkipped(channel: NotificationChannel.push.rawValue, reason: "opted_out")
            } else {
                let devices = try await contacts.devices(userID: recipient.userID, in: sql)
                if devices.isEmpty { metrics?.recordNotificationSkipped(channel: NotificationChannel.push.rawValue, reason: "no_address") }
                queued += try devices.map { try message(.push, $0.id) }
            }
        }
        return queued
    }

    /// The e-mail for `kind`, or none when the recipient opted out of its topic or there is
    /// no address. A known user is written to at the order's address when there is one (it
    /// is the one they gave for this purchase), in the language of their preferences.
    private func email(
        _ kind: NotificationKind,
        to recipient: Recipient?,
        fallback: (email: String, locale: String, customerID: Int64?)?,
        context: MessageContext,
        orderID: String? = nil
    ) throws -> [NewNotification] {
        if let recipient, !recipient.wantsEmail(about: kind.topic) {
            metrics?.recordNotificationSkipped(channel: NotificationChannel.email.rawValue, reason: "opted_out")
            return []
        }
        let address = fallback?.email ?? recipient?.email ?? ""
        guard !address.isEmpty else {
            metrics?.recordNotificationSkipped(channel: NotificationChannel.email.rawValue, reason: "no_address")
            return []
        }
        let locale = recipient?.locale ?? fallback?.locale ?? "en"
        return [
            NewNotification(
                kind: kind.rawValue,
                channel: .email,
                target: address,
                userID: recipient?.userID ?? fallback?.customerID,
                orderID: orderID,
                locale: locale,
                data: try context.encoded()
            )
        ]
    }

    /// A webhook's body as Standard Webhooks suggests: the type, when it happened, and the
    /// event's data as its service published it.
    static func webhookBody(_ event: EventEnvelope) -> String {
        #"{"data":"# + String(decoding: event.data, as: UTF8.self) + #","timestamp":""# + RFC3339.string(from: event.time)
            + #"","type":""# + event.type + #""}"#
    }
}

extension Optional {
    fileprivate func asyncMap<Mapped>(_ transform: (Wrapped) async throws -> Mapped) async rethrows -> Mapped? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}

/// The part of `order.created` that Notifications keeps: who to write to about the order,
/// and in which language. Its lines and totals, most of the event, are not decoded.
private struct CreatedOrderContact: DomainEvent {
    static let type = OrderCreated.type
    let order: Contact

    struct Contact: Codable {
        let orderID: String
        let customerID: Int64?
        let email: String
        let locale: String

        enum CodingKeys: String, CodingKey {
            case email, locale
            case orderID = "order_id"
            case customerID = "customer_id"
        }
    }
}
