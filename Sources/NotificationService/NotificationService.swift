import AsyncHTTPClient
import Crypto
public import Foundation
public import Hummingbird
public import Logging
public import Platform
public import ServiceLifecycle

/// The Notifications service: listens to events and tells people (e-mail, by their own
/// choices and in their language) and the merchant's systems (signed webhooks) what
/// happened, logging every delivery and every attempt. Nothing calls it synchronously.
public struct NotificationService: Sendable {
    public struct Settings: Sendable {
        /// `From` of every e-mail, e.g. `Shop <shop@example.com>`.
        public var mailFrom: String
        public var shopName: String
        /// Where the public API is reached (`https://shop.example.com`), for one-click
        /// unsubscribe links; e-mails carry none without it.
        public var publicBaseURL: String?
        /// Signs unsubscribe links (at least 32 bytes).
        public var unsubscribeSecret: [UInt8]
        /// Who hears of low stock.
        public var staffAddresses: [String]
        /// The operator's templates, replacing the built-in ones by name.
        public var templatesDirectory: String?
        /// `smtp://` or `smtps://` relay; without it e-mails are written as `.eml` files
        /// under `<outboxMailDirectory>`.
        public var smtpURL: String?
        /// How long the SMTP server may take to answer one command (the end of a message
        /// included) before the attempt counts as failed and is retried.
        public var smtpTimeout: Duration
        public var dataDirectory: String
        /// How often the dispatcher looks for messages that are due.
        public var pollInterval: Duration
        /// Lets webhook endpoints on loopback and private networks through (development and
        /// tests only: in production they would let an admin reach inside the network).
        public var allowPrivateWebhookAddresses: Bool
        public var webhookTimeout: Duration
        /// The waits between attempts (e-mail and webhooks alike), for tests; `nil` keeps
        /// each channel's own schedule.
        public var retryWaits: [Duration]?
        /// An SMS provider with Twilio's Messages API; without it SMS go to the log and
        /// `<dataDirectory>/outbox-sms`.
        public var sms: SMSProviderSettings?
        /// A push service with FCM's HTTP v1 API; without it pushes go to the log.
        public var push: PushProviderSettings?
        /// How long an SMS provider or push service may take to answer.
        public var providerTimeout: Duration

        public init(
            mailFrom: String = "Shop <no-reply@shop.localhost>",
            shopName: String = "Shop",
            publicBaseURL: String? = nil,
            unsubscribeSecret: [UInt8],
            staffAddresses: [String] = [],
            templatesDirectory: String? = nil,
            smtpURL: String? = nil,
            smtpTimeout: Duration = .seconds(30),
            dataDirectory: String = "./data",
            pollInterval: Duration = .milliseconds(250),
            allowPrivateWebhookAddresses: Bool = false,
            webhookTimeout: Duration = .seconds(10),
            retryWaits: [Duration]? = nil,
            sms: SMSProviderSettings? = nil,
            push: PushProviderSettings? = nil,
            providerTimeout: Duration = .seconds(10)
        ) {
            self.mailFrom = mailFrom
            self.shopName = shopName
            self.publicBaseURL = publicBaseURL
            self.unsubscribeSecret = unsubscribeSecret
            self.staffAddresses = staffAddresses
            self.templatesDirectory = templatesDirectory
            self.smtpURL = smtpURL
            self.smtpTimeout = smtpTimeout
            self.dataDirectory = dataDirectory
            self.pollInterval = pollInterval
            self.allowPrivateWebhookAddresses = allowPrivateWebhookAddresses
            self.webhookTimeout = webhookTimeout
            self.retryWaits = retryWaits
            self.sms = sms
            self.push = push
            self.providerTimeout = providerTimeout
        }
    }

    /// An account with an SMS provider that speaks Twilio's Messages API.
    public struct SMSProviderSettings: Sendable {
        public var accountSID: String
        public var authToken: String
        /// The sender number (E.164), or nil with a messaging service.
        public var from: String?
        public var messagingServiceSID: String?
        public var baseURL: String

        public init(accountSID: String, authToken: String, from: String?, messagingServiceSID: String?, baseURL: String = "https://api.twilio.com") {
            self.accountSID = accountSID
            self.authToken = authToken
            self.from = from
            self.messagingServiceSID = messagingServiceSID
            self.baseURL = baseURL
        }
    }

    /// A Firebase project for push, reached with a service account.
    public struct PushProviderSettings: Sendable {
        /// The service account's JSON key file, as read.
        public var credentialsJSON: String
        /// The project, when it is not the service account's own.
        public var projectID: String?
        public var baseURL: String

        public init(credentialsJSON: String, projectID: String? = nil, baseURL: String = "https://fcm.googleapis.com") {
            self.credentialsJSON = credentialsJSON
            self.projectID = projectID
            self.baseURL = baseURL
        }
    }

    /// A setting that cannot work, found at start: named, with why.
    public struct InvalidSetting: Error, CustomStringConvertible {
        public let variable: String
        public let reason: String
        public var description: String { "\(variable) \(reason)" }
    }

    let store: NotificationStore
    let endpoints: WebhookEndpointStore
    let contacts: ContactStore
    let codes: VerificationCode
    let dispatcher: Dispatcher
    let consumer: NotificationConsumer
    let settings: Settings
    let smtp: SMTPClient?
    /// The SMS provider's and the push service's connections, when either is configured.
    let providerClient: HTTPClient?
    let policy: WebhookAddressPolicy
    let now: @Sendable () -> Date

    public init(
        database: any Database,
        settings: Settings,
        metrics: ShopMetrics? = nil,
        logger: Logger,
        now: @escaping @Sendable () -> Date = { Date() }
    ) throws {
        let store = NotificationStore(database: database)
        let endpoints = WebhookEndpointStore(database: database)
        let prepared = try Self.prepare(settings)
        let mail: any MailTransport
        if let smtpSettings = prepared.smtp {
            let client = SMTPClient(settings: smtpSettings, logger: logger)
            smtp = client
            mail = client
        } else {
            smtp = nil
            mail = EmlFolderMailer(dataDirectory: URL(fileURLWithPath: settings.dataDirectory))
        }
        // Providers get a client of their own that never follows a redirect: a redirected
        // token request would carry its signed assertion, and a message its credentials,
        // wherever the answer points.
        let providers =
            prepared.sms == nil && prepared.push == nil
            ? nil
            : HTTPClient(eventLoopGroup: HTTPClient.shared.eventLoopGroup, configuration: .init(redirectConfiguration: .disallow))
        self.providerClient = providers
        var sms: any SMSTransport = SMSLogTransport(dataDirectory: URL(fileURLWithPath: settings.dataDirectory), logger: logger)
        if let twilio = prepared.sms, let providers { sms = TwilioSMSSender(settings: twilio, httpClient: providers) }
        var push: any PushTransport = PushLogTransport(logger: logger)
        if let fcm = prepared.push, let providers { push = FCMPushSender(settings: fcm, httpClient: providers) }
        let contacts = ContactStore(store: store)
        let codes = VerificationCode(key: Self.derivedKey(settings.unsubscribeSecret, for: "phone-verification"))
        let policy = settings.allowPrivateWebhookAddresses ? WebhookAddressPolicy.development : WebhookAddressPolicy.production
        var dispatch = Dispatcher.Settings(
            from: prepared.from,
            shopName: settings.shopName,
            publicBaseURL: settings.publicBaseURL,
            unsubscribeKey: SymmetricKey(data: settings.unsubscribeSecret)
        )
        // A send takes at most a connection, a few commands and their timeouts, and a wait for
        // a pooled connection as long again: the lease covers that twice.
        // A push can take four exchanges (a token, the send, a fresh token, the send again).
        dispatch.lease = max(
            .seconds(120),
            settings.smtpTimeout * 16 + .seconds(40),
            settings.webhookTimeout * 4 + .seconds(20),
            settings.providerTimeout * 8 + .seconds(20)
        )
        if let waits = settings.retryWaits {
            dispatch.emailRetry = WebhookRetrySchedule(waits: waits, jitter: 0)
            dispatch.webhookRetry = WebhookRetrySchedule(waits: waits, jitter: 0)
        }
        self.dispatcher = Dispatcher(
            store: store,
            endpoints: endpoints,
            contacts: contacts,
            templates: prepared.templates,
            mail: mail,
            webhooks: WebhookSender(
                httpClient: HTTPClient.shared,
                policy: policy,
                timeout: settings.webhookTimeout,
                userAgent: "\(settings.shopName)-Webhooks/1"
            ),
            sms: sms,
            push: push,
            codes: codes,
            settings: dispatch,
            metrics: metrics,
            logger: logger,
            now: now
        )
        self.consumer = NotificationConsumer(
            store: store,
            contacts: contacts,
            endpoints: endpoints,
            staffAddresses: settings.staffAddresses,
            metrics: metrics
        )
        self.store = store
        self.contacts = contacts
        self.codes = codes
        self.endpoints = endpoints
        self.settings = settings
        self.policy = policy
        self.now = now
    }

    /// Checks `settings` without opening anything: the first wrong one is thrown, named.
    public static func check(_ settings: Settings) throws {
        _ = try prepare(settings)
    }

    /// A key of its own for each use of the one secret (HKDF), so a value signed for one
    /// purpose is never valid for another.
    static func derivedKey(_ secret: [UInt8], for purpose: String) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: SymmetricKey(data: secret), info: Array(purpose.utf8), outputByteCount: 32)
    }

    private static func prepare(
        _ settings: Settings
    ) throws -> (from: MailAddress, templates: TemplateLibrary, smtp: SMTPSettings?, sms: TwilioSettings?, push: FCMSettings?) {
        let from: MailAddress
        do {
            from = try Self.mailAddress(settings.mailFrom)
        } catch {
            throw InvalidSetting(variable: "MAIL_FROM", reason: "must be an address such as 'Shop <shop@example.com>': \(error.reason)")
        }
        for address in settings.staffAddresses {
            guard (try? MailAddress(address)) != nil else {
                throw InvalidSetting(variable: "NOTIFICATIONS_STAFF_EMAILS", reason: "holds '\(address.prefix(80))', which is not an e-mail address")
            }
        }
        guard settings.unsubscribeSecret.count >= 32 else {
            throw InvalidSetting(variable: "NOTIFICATIONS_SECRET", reason: "must be at least 32 bytes")
        }
        let templates: TemplateLibrary
        do {
            templates = try TemplateLibrary(directory: settings.templatesDirectory)
        } catch {
            throw InvalidSetting(variable: "TEMPLATES_DIR", reason: "\(error)")
        }
        var smtp: SMTPSettings?
        if let url = settings.smtpURL {
            do {
                smtp = try SMTPSettings(url: url)
                smtp?.commandTimeout = settings.smtpTimeout
            } catch {
                throw InvalidSetting(variable: "SMTP_URL", reason: error.reason)
            }
        }
        return (from, templates, smtp, try smsSettings(settings), try pushSettings(settings))
    }

    private static func smsSettings(_ settings: Settings) throws -> TwilioSettings? {
        guard let sms = settings.sms else { return nil }
        do {
            return try TwilioSettings(
                accountSID: sms.accountSID,
                authToken: sms.authToken,
                from: sms.from,
                messagingServiceSID: sms.messagingServiceSID,
                baseURL: sms.baseURL,
                timeout: settings.providerTimeout
            )
        } catch {
            throw InvalidSetting(variable: "SMS_ACCOUNT_SID", reason: "and the SMS settings beside it do not work: \(error.reason)")
        }
    }

    private static func pushSettings(_ settings: Settings) throws -> FCMSettings? {
        guard let push = settings.push else { return nil }
        let account: ServiceAccount
        do {
            account = try ServiceAccount(json: Data(push.credentialsJSON.utf8))
        } catch {
            throw InvalidSetting(variable: "PUSH_CREDENTIALS_FILE", reason: "is not a usable service account key: \(error.message)")
        }
        do {
            return try FCMSettings(serviceAccount: account, projectID: push.projectID, baseURL: push.baseURL, timeout: settings.providerTimeout)
        } catch {
            throw InvalidSetting(variable: "PUSH_API_URL", reason: "and the push settings beside it do not work: \(error.reason)")
        }
    }

    /// `Name <address>` or a bare address.
    static func mailAddress(_ raw: String) throws(InvalidValue) -> MailAddress {
        let text = raw.trimmingCharacters(in: .whitespaces)
        guard text.hasSuffix(">"), let open = text.lastIndex(of: "<") else { return try MailAddress(text) }
        let address = String(text[text.index(after: open)..<text.index(before: text.endIndex)])
        let name = text[..<open].trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        return try MailAddress(address, displayName: name.isEmpty ? nil : name)
    }

    public var database: any Database { store.database }

    /// The schema this service needs, applied at start.
    public static var migrations: [Migration] { NotificationMigrations.all }

    public func migrate(logger: Logger) async throws {
        try await Migrator(Self.migrations, logger: logger).migrate(database)
    }

    /// Adds the delivery log (`/users/{id}/notifications`, `/notifications`), the one-click
    /// unsubscribe and `/webhook-endpoints` to the `/api/v1` group.
    /// The public paths this service serves, as prefixes: the gateway sends every route
    /// under them here (longer than Users' `/api/v1/users`, so they win under it).
    public static let publicPathPrefixes = [
        "/api/v1/users/{id}/devices", "/api/v1/users/{id}/notifications", "/api/v1/users/{id}/phone", "/api/v1/notifications",
        "/api/v1/webhook-endpoints", "/api/v1/unsubscribe",
    ]

    public func addRoutes(to group: RouterGroup<ShopRequestContext>) {
        let idempotency = IdempotencyMiddleware(store: IdempotencyStore(database: database), now: now)
        NotificationRoutes(store: store, unsubscribeKey: SymmetricKey(data: settings.unsubscribeSecret), now: now).add(to: group)
        ContactRoutes(contacts: contacts, codes: codes, now: now).add(to: group)
        WebhookEndpointRoutes(endpoints: endpoints, store: store, policy: policy, idempotency: idempotency, now: now).add(to: group)
    }

    /// The one consumer: every event someone hears about, and Users' events for the copy.
    public var consumers: [EventConsumer] { [consumer.consumer(database: database)] }

    /// What `/health/ready` must ask for this service.
    public var healthChecks: [HealthCheck] { [.database("notifications database", database)] }

    /// Where this service's events wait for the relay: `notification.unsubscribed`.
    public var outbox: EventOutbox { store.outbox }

    /// The dispatcher (every `pollInterval`), and hourly: old order addresses, code counts,
    /// idempotency keys and the embedded default's SMS files forgotten.
    public func backgroundServices(logger: Logger) -> [any Service] {
        let (dispatcher, store, contacts, database, now) = (self.dispatcher, self.store, self.contacts, self.database, self.now)
        let smsFolder = settings.sms == nil ? URL(fileURLWithPath: settings.dataDirectory).appendingPathComponent("outbox-sms") : nil
        return [
            DispatchService(dispatcher: dispatcher, interval: settings.pollInterval, logger: logger),
            PeriodicJob("purge notification copies", every: .seconds(3600), logger: logger) {
                try await store.purgeOrderContacts(before: now().addingTimeInterval(-30 * 86_400))
                try await contacts.purgeCodeCounts(before: now().addingTimeInterval(-VerificationCode.sendWindow))
                _ = try await IdempotencyStore(database: database).purge(now: now())
                // The SMS of the embedded default hold codes: a day is long enough to read them.
                if let smsFolder { OutboxFolder.purge(smsFolder, before: now().addingTimeInterval(-86_400)) }
            },
        ]
    }

    /// Sends everything due now (tests, and `shop` commands); returns how many it tried.
    @discardableResult
    public func dispatchOnce() async throws -> Int {
        try await dispatcher.dispatchDue()
    }

    /// Closes the SMTP connections and the providers'.
    public func shutdown() async {
        await smtp?.shutdown()
        try? await providerClient?.shutdown()
    }
}
