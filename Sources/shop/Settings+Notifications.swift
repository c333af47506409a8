import Foundation
import NotificationService
import Platform

/// What Notifications needs from the environment.
struct NotificationSettings: Sendable {
    var databaseURL: DatabaseURL?
    var mailFrom = "Shop <no-reply@shop.localhost>"
    var shopName = "Shop"
    var publicBaseURL: String?
    /// Signs unsubscribe links; all-in-one makes one under the data folder when unset.
    var secret: [UInt8]?
    var staffAddresses: [String] = []
    var templatesDirectory: String?
    var smtpURL: String?
    var smtpTimeout = Duration.seconds(30)
    var pollInterval = Duration.milliseconds(250)
    var allowPrivateWebhookAddresses = false
    var webhookTimeout = Duration.seconds(10)
    /// One wait between all attempts instead of each channel's schedule (tests, development).
    var retryWait: Duration?
    var sms: NotificationService.SMSProviderSettings?
    var push: NotificationService.PushProviderSettings?
    var providerTimeout = Duration.seconds(10)
}

extension Settings {
    /// `SMTP_URL` (or `SMTP_URL_FILE`: it holds a password), `MAIL_FROM`, `SHOP_NAME`,
    /// `PUBLIC_BASE_URL`, `NOTIFICATIONS_SECRET`, `NOTIFICATIONS_STAFF_EMAILS`,
    /// `SMTP_TIMEOUT_SECONDS`, `TEMPLATES_DIR`, `NOTIFICATIONS_POLL_MS`, `WEBHOOKS_ALLOW_PRIVATE_NETWORKS`,
    /// `WEBHOOK_TIMEOUT_SECONDS`, `NOTIFICATIONS_RETRY_WAIT_MS`; SMS: `SMS_ACCOUNT_SID`,
    /// `SMS_AUTH_TOKEN` (or `_FILE`), `SMS_FROM` or `SMS_MESSAGING_SERVICE_SID`, `SMS_API_URL`;
    /// push: `PUSH_CREDENTIALS_FILE` (a service account's JSON key), `PUSH_PROJECT_ID`,
    /// `PUSH_API_URL`; `NOTIFICATIONS_PROVIDER_TIMEOUT_SECONDS` for both.
    mutating func readNotificationSettings(_ env: EnvironmentReader, serving: Bool) throws(ConfigurationError) {
        var settings = NotificationSettings()
        settings.databaseURL = try Self.secretParsed("NOTIFICATIONS_DATABASE_URL", env) { (raw: String) throws(InvalidValue) in try DatabaseURL(raw) }
        if settings.databaseURL == nil, service == .notifications {
            settings.databaseURL = try Self.secretParsed("DATABASE_URL", env) { (raw: String) throws(InvalidValue) in try DatabaseURL(raw) }
        }
        if let from = env.string("MAIL_FROM") { settings.mailFrom = from }
        if let name = env.string("SHOP_NAME") { settings.shopName = name }
        settings.publicBaseURL = try env.parsed("PUBLIC_BASE_URL") { (raw: String) throws(InvalidValue) -> String in
            guard let url = URL(string: raw), url.scheme == "http" || url.scheme == "https", url.host != nil, url.query == nil else {
                throw InvalidValue("must be an http(s) URL such as https://shop.example.com")
            }
            return raw.hasSuffix("/") ? String(raw.dropLast()) : raw
        }
        if let secret = try Self.secret("NOTIFICATIONS_SECRET", env) {
            guard secret.utf8.count >= 32 else {
                throw ConfigurationError(variable: "NOTIFICATIONS_SECRET", reason: "must be at least 32 characters (openssl rand -hex 32)")
            }
            settings.secret = Array(secret.utf8)
        } else if service == .notifications, serving {
            throw ConfigurationError(
                variable: "NOTIFICATIONS_SECRET",
                reason: "(or NOTIFICATIONS_SECRET_FILE) is required when Notifications runs alone: it signs unsubscribe links"
            )
        }
        if let addresses = env.list("NOTIFICATIONS_STAFF_EMAILS") { settings.staffAddresses = addresses }
        settings.templatesDirectory = env.string("TEMPLATES_DIR")
        settings.smtpURL = try Self.secret("SMTP_URL", env)
        if let seconds = try env.int("SMTP_TIMEOUT_SECONDS", in: 1...600) { settings.smtpTimeout = .seconds(seconds) }
        if let milliseconds = try env.int("NOTIFICATIONS_POLL_MS", in: 10...60_000) { settings.pollInterval = .milliseconds(milliseconds) }
        if let allow = try env.bool("WEBHOOKS_ALLOW_PRIVATE_NETWORKS") { settings.allowPrivateWebhookAddresses = allow }
        if let seconds = try env.int("WEBHOOK_TIMEOUT_SECONDS", in: 1...60) { settings.webhookTimeout = .seconds(seconds) }
        if let milliseconds = try env.int("NOTIFICATIONS_RETRY_WAIT_MS", in: 1...86_400_000) { settings.retryWait = .milliseconds(milliseconds) }
        if let account = env.string("SMS_ACCOUNT_SID") {
            guard let token = try Self.secret("SMS_AUTH_TOKEN", env) else {
                throw ConfigurationError(variable: "SMS_AUTH_TOKEN", reason: "(or SMS_AUTH_TOKEN_FILE) is required with SMS_ACCOUNT_SID")
            }
            settings.sms = NotificationService.SMSProviderSettings(
                accountSID: account,
                authToken: token,
                from: env.string("SMS_FROM"),
                messagingServiceSID: env.string("SMS_MESSAGING_SERVICE_SID"),
                baseURL: env.string("SMS_API_URL") ?? "https://api.twilio.com"
            )
        }
        if let file = env.string("PUSH_CREDENTIALS_FILE") {
            guard let json = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw ConfigurationError(variable: "PUSH_CREDENTIALS_FILE", reason: "names a file that cannot be read")
            }
            settings.push = NotificationService.PushProviderSettings(
                credentialsJSON: json,
                projectID: env.string("PUSH_PROJECT_ID"),
                baseURL: env.string("PUSH_API_URL") ?? "https://fcm.googleapis.com"
            )
        }
        if let seconds = try env.int("NOTIFICATIONS_PROVIDER_TIMEOUT_SECONDS", in: 1...120) { settings.providerTimeout = .seconds(seconds) }
        notifications = settings
    }

    /// The service's settings, with the secret given or the one kept under the data folder.
    func notificationServiceSettings() throws -> NotificationService.Settings {
        let secret =
            try notifications.secret ?? Self.developmentSecret(at: URL(fileURLWithPath: dataDirectory).appendingPathComponent("notifications-secret"))
        return NotificationService.Settings(
            mailFrom: notifications.mailFrom,
            shopName: notifications.shopName,
            // The .eml files of the embedded default link to this server; real mail links
            // only where PUBLIC_BASE_URL says clients reach it.
            publicBaseURL: notifications.publicBaseURL
                ?? (notifications.smtpURL == nil ? "http://\(host == "0.0.0.0" || host == "::" ? "localhost" : host):\(port)" : nil),
            unsubscribeSecret: secret,
            staffAddresses: notifications.staffAddresses,
            templatesDirectory: notifications.templatesDirectory,
            smtpURL: notifications.smtpURL,
            smtpTimeout: notifications.smtpTimeout,
            dataDirectory: dataDirectory,
            pollInterval: notifications.pollInterval,
            allowPrivateWebhookAddresses: notifications.allowPrivateWebhookAddresses,
            webhookTimeout: notifications.webhookTimeout,
            retryWaits: notifications.retryWait.map { [$0] },
            sms: notifications.sms,
            push: notifications.push,
            providerTimeout: notifications.providerTimeout
        )
    }

    /// A secret made on the first start of the embedded default and kept, so that links
    /// already sent keep working after a restart.
    static func developmentSecret(at file: URL) throws -> [UInt8] {
        if let kept = try? String(contentsOf: file, encoding: .utf8), kept.utf8.count >= 64 {
            return Array(kept.trimmingCharacters(in: .whitespacesAndNewlines).utf8)
        }
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        var generator = SystemRandomNumberGenerator()
        let made = Hexadecimal.encode((0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) })
        try made.write(to: file, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file.path)
        return Array(made.utf8)
    }
}
