import Platform

/// What a user wants to hear from the shop. Notifications read these before sending.
struct Preferences: Sendable, Hashable {
    var marketingEmails: Bool
    var orderEmails: Bool
    var sms: Bool
    var push: Bool
    var locale: LanguageTag

    /// What a user has before choosing: order e-mails only, in English.
    static let defaults = Preferences(
        marketingEmails: false,
        orderEmails: true,
        sms: false,
        push: false,
        locale: LanguageTag(stored: "en")
    )
}
