public import AsyncHTTPClient
public import Foundation
public import Logging
import NIOCore
import PaymentAPI
public import Platform
import SQLKit
import Synchronization

/// The `test` provider: a simulated card network that behaves like a real provider in
/// test mode, so every path of checkout runs without an account anywhere.
///
/// Its books are its own tables (`test_network_*`), written in their own transactions as
/// a remote provider's would be, so a process killed between the network's answer and the
/// service's commit finds the charge there afterwards. Outcomes that come later (a card
/// that needs the customer's action, a card that answers slowly) are settled by
/// ``settlementService(logger:)`` and reported as signed webhooks over real HTTP, like a
/// real provider's.
///
/// Test cards (any future expiry; any other number is declined, as in a real test mode):
///
/// | number | outcome |
/// | --- | --- |
/// | 4242 4242 4242 4242, 5555 5555 5555 4444, 3782 822463 10005 | succeeds |
/// | 4000 0000 0000 0002 | declined, `card_declined` |
/// | 4000 0000 0000 9995 | declined, `insufficient_funds` |
/// | 4000 0000 0000 0069 (or any past expiry) | declined, `expired_card` |
/// | 4000 0025 0000 3155 | `requires_action`; succeeds after ``Settings/actionDelay`` |
/// | 4000 0000 0000 0119 | answers after ``Settings/slowDelay`` (past a caller's timeout); succeeds |
public final class TestNetwork: PaymentProvider {
    public struct Settings: Sendable {
        /// How long a customer takes to complete a required action.
        public var actionDelay: Duration
        /// How long the slow card takes to answer.
        public var slowDelay: Duration
        /// Signs the webhooks; the service checks them with the same secret.
        public var webhookSecret: String

        public init(actionDelay: Duration = .seconds(2), slowDelay: Duration = .seconds(12), webhookSecret: String) {
            self.actionDelay = actionDelay
            self.slowDelay = slowDelay
            self.webhookSecret = webhookSecret
        }
    }

    public let name = "test"
    let database: any Database
    let settings: Settings
    let signature: WebhookSignature
    let httpClient: HTTPClient
    let now: @Sendable () -> Date
    /// Where webhooks go: the service's own `/api/v1/payments/webhooks/test`, known once it listens.
    private let target = Mutex<String?>(nil)

    public init(database: any Database, settings: Settings, httpClient: HTTPClient = .shared, now: @escaping @Sendable () -> Date = { Date() }) {
        self.database = database
        self.settings = settings
        self.signature = WebhookSignature(secret: settings.webhookSecret)
        self.httpClient = httpClient
        self.now = now
    }

    /// Sets where webhooks are delivered.
    public func deliverWebhooks(to url: String) {
        target.withLock { $0 = url }
    }

    static func migration(_ version: Int) -> Migration {
        Migration(version, "the test network's own books") { sql in
            try await sql.raw(
                """
                CREATE TABLE test_network_intents (
                    id TEXT PRIMARY KEY,
                    idempotency_key TEXT NOT NULL,
                    payment_id TEXT NOT NULL,
                    status TEXT NOT NULL,
                    amount BIGINT NOT NULL,
                    currency TEXT NOT NULL,
                    capture_method TEXT NOT NULL,
                    amount_capturable BIGINT NOT NULL,
                    amount_received BIGINT NOT NULL,
                    amount_refunded BIGINT NOT NULL,
                    brand TEXT NOT NULL,
                    last4 TEXT NOT NULL,
                    exp_month INTEGER NOT NULL,
                    exp_year INTEGER NOT NULL,
                    decline_code TEXT,
                    decline_message TEXT,
                    settles_at BIGINT,
                    notify_at BIGINT,
                    notify_attempts INTEGER NOT NULL DEFAULT 0,
                    created_at BIGINT NOT NULL
                )
                """
            ).run()
            try await sql.raw("CREATE UNIQUE INDEX test_network_intents_key ON test_network_intents (idempotency_key)").run()
            try await sql.raw("CREATE INDEX test_network_intents_settles_idx ON test_network_intents (settles_at)").run()
            try await sql.raw("CREATE INDEX test_network_intents_notify_idx ON test_network_intents (notify_at)").run()
            try await sql.raw(
                """
                CREATE TABLE test_network_operations (
                    idempotency_key TEXT PRIMARY KEY,
                    intent_id TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    amount BIGINT NOT NULL,
                    reference TEXT NOT NULL,
                    created_at BIGINT NOT NULL
                )
                """
            ).run()
        }
    }

    /// What a test card does.
    enum Behaviour {
        case succeed, decline(code: String, message: String), requireAction, slow
    }

    static func behaviour(of number: String) -> Behaviour {
        switch number {
        case "4242424242424242", "5555555555554444", "378282246310005": .succeed
        case "4000000000000002": .decline(code: "card_declined", message: "Your card was declined.")
        case "4000000000009995": .decline(code: "insufficient_funds", message: "Your card has insufficient funds.")
        case "4000000000000069": .decline(code: "expired_card", message: "Your card has expired.")
        case "4000002500003155": .requireAction
        case "4000000000000119": .slow
        default: .decline(code: "card_declined", message: "Your card was declined: the test network takes test cards only.")
        }
    }

    /// Stripe-style test tokens, so a client can pay without handling a card number.
    static let tokens: [String: String] = [
        "pm_card_visa": "4242424242424242",
        "pm_card_mastercard": "5555555555554444",
        "pm_card_chargeDeclined": "4000000000000002",
        "pm_card_chargeDeclinedInsufficientFunds": "4000000000009995",
        "pm_card_chargeDeclinedExpiredCard": "4000000000000069",
        "pm_card_threeDSecureRequired": "4000002500003155",
        "pm_card_slow": "4000000000000119",
    ]

    public func authorize(_ charge: ProviderCharge) async throws -> ProviderIntent {
        if let existing = try await intent(key: charge.idempotencyKey) { return existing }
        let card: CheckedCard
        if let body = charge.method.card {
            card = try CheckedCard(body, field: "payment_method.card")
        } else if let token = charge.method.token, let number = Self.tokens[token] {
            let year = Calendar(identifier: .gregorian).component(.year, from: now()) + 3
            card = try CheckedCard(CardBody(number: number, expMonth: 12, expYear: year), field: "payment_method")
        } else {
            throw ProviderError.rejected(code: "invalid_payment_method", message: "The test network takes a test card or a pm_card_* token")
        }
        let now = self.now()
        var behaviour = Self.behaviour(of: card.number.digits)
        if card.isExpired(at: now) { behaviour = .decline(code: "expired_card", message: "Your card has expired.") }
        let success: PaymentStatus = charge.captureMethod == .manual ? .requiresCapture : .succeeded
        var status = success
        var decline: (code: String, message: String)?
        var settlesAt: Date?
        switch behaviour {
        case .succeed: break
        case .decline(let code, let message):
            status = .failed
            decline = (code, message)
        case .requireAction:
            status = .requiresAction
            settlesAt = now.addingTimeInterval(Self.seconds(settings.actionDelay))
        case .slow:
            status = .processing
            settlesAt = now.addingTimeInterval(Self.seconds(settings.slowDelay))
        }
        let id = PaymentRules.newID(prefix: "pi_test")
        let received = status == .succeeded ? charge.amount : 0
        let capturable = status == .requiresCapture ? charge.amount : 0
        do {
            try await database.transaction { sql in
                try await sql.raw(
                    """
                    INSERT INTO test_network_intents (id, idempotency_key, payment_id, status, amount, currency, capture_method,
                        amount_capturable, amount_received, amount_refunded, brand, last4, exp_month, exp_year, decline_code,
                        decline_message, settles_at, created_at)
                    VALUES (\(bind: id), \(bind: charge.idempotencyKey), \(bind: charge.paymentID), \(bind: status.rawValue),
                        \(bind: charge.amount), \(bind: charge.currency), \(bind: charge.captureMethod.rawValue), \(bind: capturable),
                        \(bind: received), 0, \(bind: card.number.brand), \(bind: card.number.last4), \(bind: card.expMonth),
                        \(bind: card.expYear), \(bind: decline?.code), \(bind: decline?.message),
                        \(bind: settlesAt?.microsecondsSince1970), \(bind: now.microsecondsSince1970))
                    """
                ).run()
            }
        } catch  where DatabaseErrors.isUniqueViolation(error) {
            if let existing = try await intent(key: charge.idempotencyKey) { return existing }
            throw error
        }
        if case .slow = behaviour {
            // Answers late, like a network under strain: the caller's timeout fires first.
            try await Task.sleep(for: settings.slowDelay)
        }
        guard let stored = try await intent(key: charge.idempotencyKey) else { throw ProviderError.unavailable("The test network lost a charge") }
        return stored
    }

    public func capture(reference: String, amount: Int64, idempotencyKey: String) async throws -> ProviderIntent {
        try await operate(reference, kind: "capture", amount: amount, key: idempotencyKey) { intent, sql in
            guard intent.status == .requiresCapture else {
                throw ProviderError.rejected(code: "payment_intent_unexpected_state", message: "The charge is \(intent.status.rawValue)")
            }
            guard amount > 0, amount <= intent.amountCapturable else {
                throw ProviderError.rejected(code: "amount_too_large", message: "At most \(intent.amountCapturable) can be captured")
            }
            try await sql.raw(
                """
                UPDATE test_network_intents SET status = 'succeeded', amount_received = \(bind: amount), amount_capturable = 0,
                    notify_at = \(bind: self.now().microsecondsSince1970) WHERE id = \(bind: reference)
                """
            ).run()
        }
        guard let intent = try await intent(reference: reference) else {
            throw ProviderError.rejected(code: "resource_missing", message: "No charge \(reference)")
        }
        return intent
    }

    public func cancel(reference: String, idempotencyKey: String) async throws -> ProviderIntent {
        try await operate(reference, kind: "cancel", amount: 0, key: idempotencyKey) { intent, sql in
            guard intent.status == .requiresCapture || intent.status == .requiresAction || intent.status == .requiresPaymentMethod else {
                throw ProviderError.rejected(code: "payment_intent_unexpected_state", message: "The charge is \(intent.status.rawValue)")
            }
            try await sql.raw(
                "UPDATE test_network_intents SET status = 'canceled', amount_capturable = 0, settles_at = NULL WHERE id = \(bind: reference)"
            ).run()
        }
        guard let intent = try await intent(reference: reference) else {
            throw ProviderError.rejected(code: "resource_missing", message: "No charge \(reference)")
        }
        return intent
    }

    public func refund(reference: String, amount: Int64, reason: String, idempotencyKey: String) async throws -> ProviderRefund {
        let refundID = try await operate(reference, kind: "refund", amount: amount, key: idempotencyKey) { intent, sql in
            guard intent.status == .succeeded else {
                throw ProviderError.rejected(code: "charge_not_captured", message: "The charge is \(intent.status.rawValue)")
            }
            let refunded =
                try await sql.raw("SELECT amount_refunded FROM test_network_intents WHERE id = \(bind: reference)")
                .first(decodingColumn: "amount_refunded", as: Int64.self) ?? 0
            guard amount > 0, refunded + amount <= intent.amountReceived else {
                throw ProviderError.rejected(code: "charge_already_refunded", message: "At most \(intent.amountReceived - refunded) can be refunded")
            }
            try await sql.raw(
                "UPDATE test_network_intents SET amount_refunded = amount_refunded + \(bind: amount) WHERE id = \(bind: reference)"
            ).run()
        }
        return ProviderRefund(reference: refundID, status: .succeeded, amount: amount)
    }

    public func find(attemptKey: String, reference: String?) async throws -> ProviderIntent? {
        if let reference { return try await intent(reference: reference) }
        return try await intent(key: attemptKey)
    }

    public func findRefund(reference: String) async throws -> ProviderRefund? {
        try await database.read { sql in
            try await sql.raw("SELECT amount FROM test_network_operations WHERE reference = \(bind: reference) AND kind = 'refund'")
                .first(decodingColumn: "amount", as: Int64.self)
                .map { ProviderRefund(reference: reference, status: .succeeded, amount: $0) }
        }
    }

    public func refusal(of method: PaymentMethodBody) -> PaymentError? {
        if let token = method.token, Self.tokens[token] == nil {
            return .invalid(field: "payment_method.token", message: "The test network knows \(Self.tokens.keys.sorted().joined(separator: ", "))")
        }
        return nil
    }

    public func verifyNotice(signature header: String?, body: [UInt8], now: Date) throws -> ProviderNotice {
        try signature.verify(header: header, body: body, now: now)
        return try WebhookBody.notice(from: body)
    }

    /// Runs `change` once per idempotency key, with the charge locked; answers the
    /// reference of the operation (a repeat answers the first one's).
    @discardableResult
    private func operate(
        _ reference: String,
        kind: String,
        amount: Int64,
        key: String,
        change: @escaping @Sendable (ProviderIntent, any SQLDatabase) async throws -> Void
    ) async throws -> String {
        let now = self.now()
        return try await database.transaction { sql in
            // The charge is locked first: a second call with the same key waits here and
            // then finds the first one's operation, never a half-seen state.
            guard
                let row = try await sql.raw(
                    "SELECT \(unsafeRaw: Self.columns) FROM test_network_intents WHERE id = \(bind: reference)\(unsafeRaw: sql.forUpdate)"
                ).first()
            else { throw ProviderError.rejected(code: "resource_missing", message: "No charge \(reference)") }
            if let done = try await sql.raw(
                "SELECT reference, intent_id, kind FROM test_network_operations WHERE idempotency_key = \(bind: key)"
            ).first() {
                guard try done.decode(column: "intent_id", as: String.self) == reference, try done.decode(column: "kind", as: String.self) == kind
                else {
                    throw ProviderError.rejected(code: "idempotency_error", message: "The key was used for another request")
                }
                return try done.decode(column: "reference", as: String.self)
            }
            try await change(try Self.intent(from: row), sql)
            let operation = PaymentRules.newID(prefix: kind == "refund" ? "re_test" : "op_test")
            try await sql.raw(
                """
                INSERT INTO test_network_operations (idempotency_key, intent_id, kind, amount, reference, created_at)
                VALUES (\(bind: key), \(bind: reference), \(bind: kind), \(bind: amount), \(bind: operation), \(bind: now.microsecondsSince1970))
                """
            ).run()
            return operation
        }
    }

    private func intent(key: String) async throws -> ProviderIntent? {
        try await database.read { sql in
            try await sql.raw("SELECT \(unsafeRaw: Self.columns) FROM test_network_intents WHERE idempotency_key = \(bind: key)").first().map(
                Self.intent(from:)
            )
        }
    }

    private func intent(reference: String) async throws -> ProviderIntent? {
        try await database.read { sql in
            try await sql.raw("SELECT \(unsafeRaw: Self.columns) FROM test_network_intents WHERE id = \(bind: reference)").first().map(
                Self.intent(from:)
            )
        }
    }

    static let columns = """
        id, idempotency_key, status, amount, amount_capturable, amount_received, brand, last4, exp_month, exp_year, decline_code, decline_message
        """

    static func intent(from row: any SQLRow) throws -> ProviderIntent {
        let id = try row.decode(column: "id", as: String.self)
        let status = PaymentStatus(rawValue: try row.decode(column: "status", as: String.self)) ?? .processing
        return ProviderIntent(
            reference: id,
            idempotencyKey: try row.decode(column: "idempotency_key", as: String.self),
            status: status,
            amount: try row.decode(column: "amount", as: Int64.self),
            amountCapturable: try row.decode(column: "amount_capturable", as: Int64.self),
            amountReceived: try row.decode(column: "amount_received", as: Int64.self),
            card: CardResource(
                brand: try row.decode(column: "brand", as: String.self),
                last4: try row.decode(column: "last4", as: String.self),
                expMonth: try row.decode(column: "exp_month", as: Int.self),
                expYear: try row.decode(column: "exp_year", as: Int.self)
            ),
            failure: try row.decode(column: "decline_code", as: String?.self).map {
                PaymentFailure(code: $0, message: try row.decode(column: "decline_message", as: String?.self) ?? "")
            },
            nextActionURL: status == .requiresAction ? "https://test-network.invalid/3ds/\(id)" : nil
        )
    }

    private static func seconds(_ duration: Duration) -> TimeInterval {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    // MARK: Settlement and webhooks

    /// Settles the charges whose outcome was due (a completed action, a slow card) and
    /// delivers their webhooks, retrying with backoff until the service takes them.
    public func settlementService(logger: Logger, every interval: Duration = .milliseconds(500)) -> PeriodicJob {
        PeriodicJob("test network settlement", every: interval, logger: logger) { [self] in
            try await settleDue()
            try await notifyDue(logger: logger)
        }
    }

    func settleDue() async throws {
        let now = self.now().microsecondsSince1970
        try await database.transaction { sql in
            // A required action and a slow answer both end in the success the card stands for.
            try await sql.raw(
                """
                UPDATE test_network_intents SET
                    status = CASE WHEN capture_method = 'manual' THEN 'requires_capture' ELSE 'succeeded' END,
                    amount_capturable = CASE WHEN capture_method = 'manual' THEN amount ELSE 0 END,
                    amount_received = CASE WHEN capture_method = 'manual' THEN 0 ELSE amount END,
                    settles_at = NULL, notify_at = \(bind: now)
                WHERE settles_at <= \(bind: now) AND status IN ('requires_action', 'processing')
                """
            ).run()
        }
    }

    func notifyDue(logger: Logger) async throws {
        guard let target = target.withLock({ $0 }) else { return }
        let now = self.now()
        let due = try await database.read { sql in
            try await sql.raw(
                """
                SELECT id, payment_id, status, notify_attempts FROM test_network_intents
                WHERE notify_at <= \(bind: now.microsecondsSince1970) ORDER BY notify_at LIMIT 50
                """
            ).all().map {
                (
                    id: try $0.decode(column: "id", as: String.self), paymentID: try $0.decode(column: "payment_id", as: String.self),
                    status: try $0.decode(column: "status", as: String.self), attempts: try $0.decode(column: "notify_attempts", as: Int.self)
                )
            }
        }
        for intent in due {
            let type = intent.status == "requires_capture" ? "payment_intent.amount_capturable_updated" : "payment_intent.\(intent.status)"
            let body = Self.webhookBody(eventID: PaymentRules.newID(prefix: "evt_test"), type: type, intentID: intent.id, paymentID: intent.paymentID)
            var request = HTTPClientRequest(url: target)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.headers.add(name: "Stripe-Signature", value: signature.header(for: body, at: now))
            request.body = .bytes(ByteBuffer(bytes: body))
            var delivered = false
            do {
                let response = try await httpClient.execute(request, timeout: .seconds(5))
                _ = try? await response.body.collect(upTo: 1 << 16)
                delivered = (200..<300).contains(response.status.code)
            } catch {
                logger.warning("test network webhook not delivered", metadata: ["intent": "\(intent.id)", "error": "\(error)"])
            }
            let attempts = intent.attempts + 1
            // Backs off to a minute between attempts, and gives up after 20, as providers do (more slowly).
            let next: Int64? = delivered || attempts >= 20 ? nil : now.microsecondsSince1970 + min(60, 1 << min(attempts, 6)) * 1_000_000
            try await database.transaction { sql in
                try await sql.raw(
                    "UPDATE test_network_intents SET notify_at = \(bind: next), notify_attempts = \(bind: delivered ? 0 : attempts) WHERE id = \(bind: intent.id)"
                ).run()
            }
        }
    }

    static func webhookBody(eventID: String, type: String, intentID: String, paymentID: String) -> [UInt8] {
        struct Body: Encodable {
            struct Payload: Encodable { let object: Object }
            struct Object: Encodable {
                let id: String
                let object = "payment_intent"
                let metadata: [String: String]
            }
            let id: String
            let type: String
            let data: Payload
        }
        let body = Body(id: eventID, type: type, data: .init(object: .init(id: intentID, metadata: ["payment_id": paymentID])))
        return Array((try? JSONEncoder().encode(body)) ?? Data())
    }
}
