/// What a notification tells: one per event that people hear about.
enum NotificationKind: String, CaseIterable, Sendable, Codable {
    case welcome
    case orderConfirmed = "order_confirmed"
    case orderShipped = "order_shipped"
    case orderCancelled = "order_cancelled"
    case orderRefunded = "order_refunded"
    case paymentFailed = "payment_failed"
    case lowStock = "low_stock"
    /// The code that proves a phone number is the user's.
    case phoneVerification = "phone_verification"

    /// The preference that can turn it off, if any.
    var topic: Topic {
        switch self {
        case .welcome, .phoneVerification: .account
        case .orderConfirmed, .orderShipped, .orderCancelled, .orderRefunded, .paymentFailed: .orders
        case .lowStock: .staff
        }
    }
}

extension NotificationKind {
    /// The channels it goes out on, each where the user can be reached and wants it: every
    /// kind by e-mail but the phone's code; by SMS what cannot wait (a parcel on its way, a
    /// payment to retry); by push what a customer's app shows about their orders.
    var channels: Set<NotificationChannel> {
        switch self {
        case .welcome, .lowStock: [.email]
        case .orderConfirmed, .orderCancelled, .orderRefunded: [.email, .push]
        case .orderShipped, .paymentFailed: [.email, .sms, .push]
        case .phoneVerification: [.sms]
        }
    }
}

/// Which of a user's choices governs a notification.
enum Topic: String, Sendable, Codable {
    /// About the account itself (the welcome): always sent while the account exists.
    case account
    /// About the user's orders: `order_emails` in their preferences; one-click unsubscribe.
    case orders
    /// Marketing: `marketing_emails`; one-click unsubscribe.
    case marketing
    /// Alerts for the shop's staff, to the configured addresses.
    case staff

    /// Whether a mail of this topic carries a one-click unsubscribe (RFC 8058).
    var canUnsubscribe: Bool { self == .orders || self == .marketing }
}

/// The ways a notification travels.
enum NotificationChannel: String, CaseIterable, Sendable, Codable {
    case email
    case sms
    case push
    case webhook
}

/// Where one delivery stands. `queued` → `sending` → `sent`; a transient failure goes to
/// `retrying` (and back to `sending` when due); the last failed attempt, or a permanent
/// failure, ends in `dead`, which an admin may replay.
enum DeliveryStatus: String, CaseIterable, Sendable, Codable {
    case queued
    case sending
    case retrying
    case sent
    case dead
}
