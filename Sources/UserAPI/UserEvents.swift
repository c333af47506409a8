import Foundation
public import ServiceContract

/// `user.registered`: a new account exists.
public struct UserRegistered: DomainEvent, Hashable {
    public static let type = "user.registered"
    public var userID: Int64
    public var email: String
    public var name: String
    public var role: String

    public init(userID: Int64, email: String, name: String, role: String) {
        self.userID = userID
        self.email = email
        self.name = name
        self.role = role
    }

    enum CodingKeys: String, CodingKey {
        case userID = "user_id"
        case email, name, role
    }
}

/// `user.updated`: a profile changed; the fields that changed, with their new values.
public struct UserUpdated: DomainEvent, Hashable {
    public static let type = "user.updated"
    public var userID: Int64
    public var changed: [String]
    public var email: String
    public var name: String
    public var role: String

    public init(userID: Int64, changed: [String], email: String, name: String, role: String) {
        self.userID = userID
        self.changed = changed
        self.email = email
        self.name = name
        self.role = role
    }

    enum CodingKeys: String, CodingKey {
        case userID = "user_id"
        case changed, email, name, role
    }
}

/// `user.deleted`: the account and its personal data are gone; forget what you keep of it.
public struct UserDeleted: DomainEvent, Hashable {
    public static let type = "user.deleted"
    public var userID: Int64

    public init(userID: Int64) {
        self.userID = userID
    }

    enum CodingKeys: String, CodingKey {
        case userID = "user_id"
    }
}

/// `user.sessions_ended`: every session of a user ended (deleted, role or password
/// changed, promoted from the command line); access tokens issued before `ended_at`
/// must be refused wherever they are checked.
public struct UserSessionsEnded: DomainEvent, Hashable {
    public static let type = "user.sessions_ended"
    public var userID: Int64
    /// Milliseconds since 1970.
    public var endedAt: Int64
    /// Why: `deleted`, `role_changed`, `password_changed` or `promoted`.
    public var reason: String

    public init(userID: Int64, endedAt: Int64, reason: String) {
        self.userID = userID
        self.endedAt = endedAt
        self.reason = reason
    }

    enum CodingKeys: String, CodingKey {
        case userID = "user_id"
        case endedAt = "ended_at"
        case reason
    }
}

/// `user.preferences_changed`: what a user now wants to hear, and in which language; every
/// field, as it now stands.
public struct UserPreferencesChanged: DomainEvent, Hashable {
    public static let type = "user.preferences_changed"
    public var userID: Int64
    public var marketingEmails: Bool
    public var orderEmails: Bool
    public var sms: Bool
    public var push: Bool
    public var locale: String

    public init(userID: Int64, marketingEmails: Bool, orderEmails: Bool, sms: Bool, push: Bool, locale: String) {
        self.userID = userID
        self.marketingEmails = marketingEmails
        self.orderEmails = orderEmails
        self.sms = sms
        self.push = push
        self.locale = locale
    }

    enum CodingKeys: String, CodingKey {
        case userID = "user_id"
        case marketingEmails = "marketing_emails"
        case orderEmails = "order_emails"
        case sms, push, locale
    }
}
