public import ServiceContract

/// `notification.unsubscribed`: a user followed a one-click unsubscribe link in an e-mail;
/// the topic (`orders` or `marketing`) is off from now on. Users turns the matching
/// preference off, so the account page says what the mail link did.
public struct NotificationUnsubscribed: DomainEvent, Hashable {
    public static let type = "notification.unsubscribed"
    public var userID: Int64
    /// `orders` (`order_emails`) or `marketing` (`marketing_emails`).
    public var topic: String

    public init(userID: Int64, topic: String) {
        self.userID = userID
        self.topic = topic
    }

    enum CodingKeys: String, CodingKey {
        case userID = "user_id"
        case topic
    }
}
