/// What a notification tells: one per event that people hear about.
enum NotificationKind: String, CaseIterable, Sendable, Codable {
    case welcome
    case orderConfirmed = "order_confirmed"
    case orderShipped = "order_shipped"
    case orderCancelled = "order_cancelled"
    case orderRefunded = "order_refunded"
    case paymentFailed = "payment_failed"
    case lowStock = "low_stock"

    /// The preference that can turn it off, if any.
    var topic: Topic {
        switch self {
        case .welcome: .account
        case .orderConfirmed, .orderShipped, .orderCancelled, .orderRefunded, .paymentFailed: .orders
        case .lowStock: .staff
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
