import Foundation

/// One message on one channel to one target (an address, an endpoint), made from one
/// event: the unit that is sent, retried, logged and replayed.
struct NotificationRecord: Sendable, Hashable {
    var sequence: Int64
    /// `ntf_…`; also the `Message-ID` of an e-mail and the `webhook-id` of a webhook, the
    /// same on every attempt so that a receiver can tell a repeat.
    var id: String
    var eventID: String
    var eventType: String
    /// A ``NotificationKind`` for messages to people, the event type for webhooks.
    var kind: String
    var channel: NotificationChannel
    /// The e-mail address, or the webhook endpoint's id.
    var target: String
    var userID: Int64?
    var orderID: String?
    var locale: String
    /// What the message is made from: the template's values as JSON, or a webhook's body.
    var data: String
    /// The subject of the last e-mail rendered from it.
    var subject: String?
    var status: DeliveryStatus
    /// Every attempt ever made (numbered from 1, never reused, so the log keeps them all).
    var attempts: Int
    /// The attempts made before the last replay: the retry schedule counts from here.
    var roundStart: Int
    var nextAttemptAt: Date
    var lastError: String?
    var providerAnswer: String?
    var createdAt: Date
    var updatedAt: Date
    var sentAt: Date?
}

/// A notification to be queued: what a consumer makes of an event.
struct NewNotification: Sendable, Hashable {
    var kind: String
    var channel: NotificationChannel
    var target: String
    var userID: Int64?
    var orderID: String?
    var locale: String
    var data: String
}

/// One attempt at sending, as the delivery log shows it.
struct DeliveryAttempt: Sendable, Hashable {
    var attempt: Int
    var startedAt: Date
    var durationMilliseconds: Int64
    /// `sent`, `transient`, `permanent` or `gone`.
    var outcome: String
    var detail: String
}
