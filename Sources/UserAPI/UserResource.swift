public import Foundation

/// A user as the API shows it. The password never leaves the service.
public struct UserResource: Codable, Sendable, Hashable {
    public var id: Int64
    public var email: String
    public var name: String
    /// `customer`, `staff` or `admin`.
    public var role: String
    public var createdAt: Date
    public var updatedAt: Date

    public init(id: Int64, email: String, name: String, role: String, createdAt: Date, updatedAt: Date) {
        self.id = id
        self.email = email
        self.name = name
        self.role = role
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    enum CodingKeys: String, CodingKey {
        case id, email, name, role
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }
}

/// What a user wants to hear from the shop, read by the notification work.
public struct PreferencesResource: Codable, Sendable, Hashable {
    public var marketingEmails: Bool
    public var orderEmails: Bool
    public var sms: Bool
    public var push: Bool
    /// A BCP 47 language tag, such as `en` or `de-CH`.
    public var locale: String

    public init(marketingEmails: Bool, orderEmails: Bool, sms: Bool, push: Bool, locale: String) {
        self.marketingEmails = marketingEmails
        self.orderEmails = orderEmails
        self.sms = sms
        self.push = push
        self.locale = locale
    }

    enum CodingKeys: String, CodingKey {
        case marketingEmails = "marketing_emails"
        case orderEmails = "order_emails"
        case sms, push, locale
    }
}

/// One entry of the account audit trail.
public struct AuditEventResource: Codable, Sendable, Hashable {
    public var id: Int64
    /// The CloudEvents id of the event it records.
    public var eventID: String
    /// `user.registered`, `user.updated`, `user.deleted`, `user.sessions_ended` or
    /// `user.login_failed` (a wrong password for the account).
    public var type: String
    public var userID: Int64
    /// Who acted: the signed-in user of the request (an admin changing someone), when
    /// there was one.
    public var actorID: Int64?
    /// The request that caused it, when there was one.
    public var requestID: String?
    public var occurredAt: Date
    /// For `user.updated`: the fields that changed.
    public var changed: [String]

    public init(
        id: Int64,
        eventID: String,
        type: String,
        userID: Int64,
        actorID: Int64? = nil,
        requestID: String?,
        occurredAt: Date,
        changed: [String]
    ) {
        self.id = id
        self.eventID = eventID
        self.type = type
        self.userID = userID
        self.actorID = actorID
        self.requestID = requestID
        self.occurredAt = occurredAt
        self.changed = changed
    }

    enum CodingKeys: String, CodingKey {
        case id, type, changed
        case eventID = "event_id"
        case userID = "user_id"
        case actorID = "actor_id"
        case requestID = "request_id"
        case occurredAt = "occurred_at"
    }
}
