/// What Notifications keeps about a user, copied from Users' events: where to write, in
/// which language, and what they agreed to hear.
struct Recipient: Sendable, Hashable {
    var userID: Int64
    var email: String
    var name: String
    var locale: String
    var orderEmails: Bool
    var marketingEmails: Bool
    var sms: Bool
    var push: Bool

    /// Whether `topic` may be sent to this user by email.
    func wantsEmail(about topic: Topic) -> Bool {
        switch topic {
        case .account, .staff: true
        case .orders: orderEmails
        case .marketing: marketingEmails
        }
    }

    /// What Users gives an account before its owner chooses (order e-mails only, English).
    static func withDefaults(userID: Int64, email: String, name: String) -> Recipient {
        Recipient(
            userID: userID,
            email: email,
            name: name,
            locale: "en",
            orderEmails: true,
            marketingEmails: false,
            sms: false,
            push: false
        )
    }
}
