import Foundation
import ServiceContract

/// A notification as the delivery log shows it: to its user (their own history) and to
/// admins (with every attempt when read one at a time).
struct NotificationResource: Codable, Sendable, Hashable {
    struct Attempt: Codable, Sendable, Hashable {
        var attempt: Int
        var startedAt: Date
        var durationMs: Int64
        var outcome: String
        var detail: String

        enum CodingKeys: String, CodingKey {
            case attempt, outcome, detail
            case startedAt = "started_at"
            case durationMs = "duration_ms"
        }
    }

    var id: String
    var eventID: String
    var eventType: String
    var kind: String
    var channel: String
    /// The address, or the webhook endpoint's id.
    var target: String
    var userID: Int64?
    var orderID: String?
    var locale: String
    var subject: String?
    var status: String
    var attempts: Int
    var nextAttemptAt: Date?
    var lastError: String?
    var providerAnswer: String?
    var createdAt: Date
    var sentAt: Date?
    /// Every attempt, on a single notification's page.
    var attemptLog: [Attempt]?

    enum CodingKeys: String, CodingKey {
        case id, kind, channel, target, locale, subject, status, attempts
        case eventID = "event_id"
        case eventType = "event_type"
        case userID = "user_id"
        case orderID = "order_id"
        case nextAttemptAt = "next_attempt_at"
        case lastError = "last_error"
        case providerAnswer = "provider_answer"
        case createdAt = "created_at"
        case sentAt = "sent_at"
        case attemptLog = "attempt_log"
    }

    init(_ notification: NotificationRecord, attempts log: [DeliveryAttempt]? = nil) {
        id = notification.id
        eventID = notification.eventID
        eventType = notification.eventType
        kind = notification.kind
        channel = notification.channel.rawValue
        target = notification.target
        userID = notification.userID
        orderID = notification.orderID
        locale = notification.locale
        subject = notification.subject
        status = notification.status.rawValue
        attempts = notification.attempts
        nextAttemptAt = notification.status == .queued || notification.status == .retrying ? notification.nextAttemptAt : nil
        lastError = notification.lastError
        providerAnswer = notification.providerAnswer
        createdAt = notification.createdAt
        sentAt = notification.sentAt
        attemptLog = log?.map {
            Attempt(attempt: $0.attempt, startedAt: $0.startedAt, durationMs: $0.durationMilliseconds, outcome: $0.outcome, detail: $0.detail)
        }
    }
}

/// A webhook endpoint; its secret only in the answer that made it.
struct WebhookEndpointResource: Codable, Sendable, Hashable {
    var id: String
    var url: String
    var description: String
    var eventTypes: [String]
    var enabled: Bool
    var disabledReason: String?
    var failingSince: Date?
    var createdAt: Date
    var updatedAt: Date
    var secret: String?

    enum CodingKeys: String, CodingKey {
        case id, url, description, enabled, secret
        case eventTypes = "event_types"
        case disabledReason = "disabled_reason"
        case failingSince = "failing_since"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }

    init(_ endpoint: WebhookEndpoint, showingSecret: Bool = false) {
        id = endpoint.id
        url = endpoint.url
        description = endpoint.description
        eventTypes = endpoint.eventTypes
        enabled = endpoint.enabled
        disabledReason = endpoint.disabledReason
        failingSince = endpoint.failingSince
        createdAt = endpoint.createdAt
        updatedAt = endpoint.updatedAt
        secret = showingSecret ? endpoint.secret : nil
    }
}

/// The body of `POST /api/v1/webhook-endpoints`.
struct WebhookEndpointRequest: JSONRequestBody, Encodable, Hashable {
    var url: String?
    var eventTypes: [String]?
    var description: String?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case url, description
        case eventTypes = "event_types"
    }
}

/// The body of `PATCH /api/v1/webhook-endpoints/{id}`: the members to change.
struct WebhookEndpointChange: JSONRequestBody, Encodable, Hashable {
    var eventTypes: [String]?
    var description: String?
    var enabled: Bool?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case description, enabled
        case eventTypes = "event_types"
    }
}

/// The answer to a one-click unsubscribe.
struct UnsubscribeResource: Codable, Sendable, Hashable {
    var unsubscribed: Bool
    var topic: String
}
