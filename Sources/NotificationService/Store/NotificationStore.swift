import Foundation
import NotificationAPI
import Platform
import SQLKit
import ServiceContract

/// The delivery log and the copies it is made from: who the recipients are (from Users'
/// events), where orders write to, and every notification with its attempts.
struct NotificationStore: Sendable {
    let database: any Database
    /// What this service tells others: a one-click unsubscribe, for Users' preferences.
    let outbox: EventOutbox

    init(database: any Database) {
        self.database = database
        self.outbox = EventOutbox(database: database, source: "/notifications")
    }

    static let columns = """
        seq, id, event_id, event_type, kind, channel, target, user_id, order_id, locale, data, subject, status, attempts,
        round_start, next_attempt_at, last_error, provider_answer, created_at, updated_at, sent_at
        """

    // MARK: Copies from events

    /// Creates or updates the recipient's address and name, keeping their preferences.
    func saveContact(userID: Int64, email: String, name: String, at now: Date, in sql: any SQLDatabase) async throws {
        let defaults = Recipient.withDefaults(userID: userID, email: email, name: name)
        try await sql.raw(
            """
            INSERT INTO recipients (user_id, email, name, locale, order_emails, marketing_emails, sms, push, preferences_at, updated_at)
            VALUES (\(bind: userID), \(bind: email), \(bind: name), \(bind: defaults.locale), \(bind: defaults.orderEmails),
                \(bind: defaults.marketingEmails), \(bind: defaults.sms), \(bind: defaults.push), 0, \(bind: now.microsecondsSince1970))
            ON CONFLICT (user_id) DO UPDATE SET email = EXCLUDED.email, name = EXCLUDED.name, updated_at = EXCLUDED.updated_at
            """
        ).run()
    }

    /// Applies preferences chosen at `chosenAt`, unless a later choice is already kept (events
    /// from two sources may arrive out of order; the latest choice wins).
    func savePreferences(_ recipient: Recipient, chosenAt: Date, in sql: any SQLDatabase) async throws {
        let at = chosenAt.microsecondsSince1970
        try await sql.raw(
            """
            INSERT INTO recipients (user_id, email, name, locale, order_emails, marketing_emails, sms, push, preferences_at, updated_at)
            VALUES (\(bind: recipient.userID), \(bind: recipient.email), \(bind: recipient.name), \(bind: recipient.locale),
                \(bind: recipient.orderEmails), \(bind: recipient.marketingEmails), \(bind: recipient.sms), \(bind: recipient.push),
                \(bind: at), \(bind: at))
            ON CONFLICT (user_id) DO UPDATE SET locale = EXCLUDED.locale, order_emails = EXCLUDED.order_emails,
                marketing_emails = EXCLUDED.marketing_emails, sms = EXCLUDED.sms, push = EXCLUDED.push,
                preferences_at = EXCLUDED.preferences_at, updated_at = EXCLUDED.updated_at
            WHERE recipients.preferences_at < EXCLUDED.preferences_at
            """
        ).run()
    }

    func recipient(userID: Int64, in sql: any SQLDatabase) async throws -> Recipient? {
        guard let row = try await sql.raw("SELECT * FROM recipients WHERE user_id = \(bind: userID)").first() else { return nil }
        return Recipient(
            userID: userID,
            email: try row.decode(column: "email", as: String.self),
            name: try row.decode(column: "name", as: String.self),
            locale: try row.decode(column: "locale", as: String.self),
            orderEmails: try row.decode(column: "order_emails", as: Bool.self),
            marketingEmails: try row.decode(column: "marketing_emails", as: Bool.self),
            sms: try row.decode(column: "sms", as: Bool.self),
            push: try row.decode(column: "push", as: Bool.self)
        )
    }

    /// Turns one topic off for a user (a one-click unsubscribe), as a choice made `at`, and
    /// tells Users, where preferences live. A user not copied here yet (registered before
    /// this service kept copies) gets a row that says so. Only a change is written and
    /// told: the same link followed again writes nothing.
    func unsubscribe(userID: Int64, from topic: Topic, at now: Date) async throws {
        let column: String
        switch topic {
        case .orders: column = "order_emails"
        case .marketing: column = "marketing_emails"
        case .account, .staff: return
        }
        let defaults = Recipient.withDefaults(userID: userID, email: "", name: "")
        let micros = now.microsecondsSince1970
        let changed = try await database.transaction { sql in
            let changed =
                try await sql.raw(
                    """
                    INSERT INTO recipients (user_id, email, name, locale, order_emails, marketing_emails, sms, push, preferences_at, updated_at)
                    VALUES (\(bind: userID), '', '', \(bind: defaults.locale), \(bind: topic == .orders ? false : defaults.orderEmails),
                        \(bind: topic == .marketing ? false : defaults.marketingEmails), \(bind: defaults.sms), \(bind: defaults.push),
                        \(bind: micros), \(bind: micros))
                    ON CONFLICT (user_id) DO UPDATE SET \(unsafeRaw: column) = \(bind: false), preferences_at = EXCLUDED.preferences_at,
                        updated_at = EXCLUDED.updated_at
                    WHERE recipients.\(unsafeRaw: column) = \(bind: true)
                    RETURNING user_id
                    """
                ).first() != nil
            if changed { try await outbox.append(NotificationUnsubscribed(userID: userID, topic: topic.rawValue), at: now, in: sql) }
            return changed
        }
        if changed { outbox.committed() }
    }

    /// Forgets a deleted user: their copy, their orders' addresses, and the personal parts of
    /// their notifications (kept as counted rows); nothing more is sent to them.
    func forget(userID: Int64, at now: Date, in sql: any SQLDatabase) async throws {
        let micros = now.microsecondsSince1970
        // Under the user's lock, so a number or a device being added now waits, then sees
        // the user is gone.
        try await ContactStore.lockUser(userID, in: sql)
        try await sql.raw(
            "INSERT INTO forgotten_users (user_id, forgotten_at) VALUES (\(bind: userID), \(bind: micros)) ON CONFLICT (user_id) DO NOTHING"
        ).run()
        try await sql.raw("DELETE FROM recipients WHERE user_id = \(bind: userID)").run()
        try await sql.raw("DELETE FROM phone_numbers WHERE user_id = \(bind: userID)").run()
        try await sql.raw("DELETE FROM devices WHERE user_id = \(bind: userID)").run()
        try await sql.raw("DELETE FROM order_contacts WHERE customer_id = \(bind: userID)").run()
        try await sql.raw(
            """
            UPDATE notifications SET status = 'dead', last_error = 'the user was deleted', updated_at = \(bind: micros)
            WHERE user_id = \(bind: userID) AND status IN ('queued', 'retrying', 'sending')
            """
        ).run()
        try await sql.raw(
            """
            UPDATE notifications SET target = 'forgotten:' || id, data = '{}', subject = NULL,
                provider_answer = NULL, last_error = NULL, updated_at = \(bind: micros)
            WHERE user_id = \(bind: userID) AND channel <> 'webhook'
            """
        ).run()
        // A server's answer may echo the address ("550 <bob@example.com>: unknown").
        try await sql.raw(
            """
            UPDATE notification_attempts SET detail = '(forgotten)'
            WHERE notification_id IN (SELECT id FROM notifications WHERE user_id = \(bind: userID) AND channel <> 'webhook')
            """
        ).run()
    }

    func saveOrderContact(orderID: String, customerID: Int64?, email: String, locale: String, at now: Date, in sql: any SQLDatabase) async throws {
        try await sql.raw(
            """
            INSERT INTO order_contacts (order_id, customer_id, email, locale, created_at)
            VALUES (\(bind: orderID), \(bind: customerID), \(bind: email), \(bind: locale), \(bind: now.microsecondsSince1970))
            ON CONFLICT (order_id) DO NOTHING
            """
        ).run()
    }

    func orderContact(orderID: String, in sql: any SQLDatabase) async throws -> (customerID: Int64?, email: String, locale: String)? {
        guard let row = try await sql.raw("SELECT * FROM order_contacts WHERE order_id = \(bind: orderID)").first() else { return nil }
        return (
            try row.decodeNil(column: "customer_id") ? nil : try row.decode(column: "customer_id", as: Int64.self),
            try row.decode(column: "email", as: String.self),
            try row.decode(column: "locale", as: String.self)
        )
    }

    /// Drops order addresses older than `before`: a payment fails within minutes of its order.
    func purgeOrderContacts(before: Date) async throws {
        try await database.transaction { sql in
            try await sql.raw("DELETE FROM order_contacts WHERE created_at < \(bind: before.microsecondsSince1970)").run()
        }
    }

    // MARK: The queue

    /// Queues `notifications` for `event`; one already queued for the same event, channel
    /// and target is left as it is, so a redelivered event sends nothing twice.
    @discardableResult
    func enqueue(_ notifications: [NewNotification], for event: EventEnvelope, at now: Date, in sql: any SQLDatabase) async throws -> Int {
        try await enqueue(notifications, eventID: event.id, eventType: event.type, at: now, in: sql)
    }

    /// Queues `notifications` for what `eventID` names (an event, or a request such as a
    /// phone's verification), once per channel and target.
    @discardableResult
    func enqueue(_ notifications: [NewNotification], eventID: String, eventType: String, at now: Date, in sql: any SQLDatabase) async throws -> Int {
        var queued = 0
        let micros = now.microsecondsSince1970
        for new in notifications {
            let inserted = try await sql.raw(
                """
                INSERT INTO notifications (id, event_id, event_type, kind, channel, target, user_id, order_id, locale, data, status,
                    next_attempt_at, created_at, updated_at)
                VALUES (\(bind: RandomID.timeOrdered("ntf")), \(bind: eventID), \(bind: eventType), \(bind: new.kind),
                    \(bind: new.channel.rawValue), \(bind: new.target), \(bind: new.userID), \(bind: new.orderID), \(bind: new.locale),
                    \(bind: new.data), 'queued', \(bind: micros), \(bind: micros), \(bind: micros))
                ON CONFLICT (event_id, channel, target) DO NOTHING
                RETURNING id
                """
            ).first()
            if inserted != nil { queued += 1 }
        }
        return queued
    }

    /// Takes up to `limit` notifications that are due, or whose sender's lease ran out (it
    /// crashed mid-send), marks them `sending` until `until`, and counts the attempt.
    func claimDue(now: Date, until: Date, limit: Int) async throws -> [NotificationRecord] {
        let micros = now.microsecondsSince1970
        return try await database.transaction { sql in
            let ids = try await sql.raw(
                """
                SELECT id FROM notifications
                WHERE (status IN ('queued', 'retrying') AND next_attempt_at <= \(bind: micros))
                    OR (status = 'sending' AND lease_until <= \(bind: micros))
                ORDER BY next_attempt_at LIMIT \(bind: limit)\(unsafeRaw: sql.forUpdateSkipLocked)
                """
            ).all().map { try $0.decode(column: "id", as: String.self) }
            guard !ids.isEmpty else { return [] }
            let rows = try await sql.raw(
                """
                UPDATE notifications SET status = 'sending', attempts = attempts + 1, lease_until = \(bind: until.microsecondsSince1970),
                    updated_at = \(bind: micros)
                WHERE id IN (\(binds: ids))
                RETURNING \(unsafeRaw: Self.columns)
                """
            ).all()
            return try rows.map(Self.notification(from:)).sorted { $0.nextAttemptAt < $1.nextAttemptAt }
        }
    }

    /// What became of a notification's attempt: `sent`, or a failure that is retried at
    /// `retryAt` or, without one, is final. Recorded only while the attempt is still the
    /// notification's latest (a sender whose lease ran out does not overwrite its successor).
    @discardableResult
    func record(
        _ notification: NotificationRecord,
        startedAt: Date,
        finishedAt: Date,
        outcome: Result<String, DeliveryFailure>,
        retryAt: Date?,
        subject: String?
    ) async throws -> DeliveryStatus? {
        let micros = finishedAt.microsecondsSince1970
        let duration = max(0, (finishedAt.timeIntervalSince(startedAt) * 1000).rounded())
        return try await database.transaction { sql in
            let status: DeliveryStatus
            let detail: String
            let outcomeName: String
            switch outcome {
            case .success(let answer):
                (status, detail, outcomeName) = (.sent, answer, "sent")
            case .failure(let failure):
                status = failure.kind == .transient && retryAt != nil ? .retrying : .dead
                (detail, outcomeName) = (failure.detail, failure.kind.rawValue)
            }
            let bounded = String(detail.prefix(1000))
            let updated = try await sql.raw(
                """
                UPDATE notifications SET status = \(bind: status.rawValue), lease_until = 0, updated_at = \(bind: micros),
                    next_attempt_at = \(bind: (retryAt ?? finishedAt).microsecondsSince1970),
                    subject = COALESCE(\(bind: subject), subject),
                    last_error = \(bind: status == .sent ? nil : bounded),
                    provider_answer = \(bind: status == .sent ? bounded : nil),
                    sent_at = \(bind: status == .sent ? micros : nil)
                WHERE id = \(bind: notification.id) AND attempts = \(bind: notification.attempts) AND status = 'sending'
                RETURNING id
                """
            ).first()
            guard updated != nil else { return nil }
            try await sql.raw(
                """
                INSERT INTO notification_attempts (notification_id, attempt, started_at, duration_ms, outcome, detail)
                VALUES (\(bind: notification.id), \(bind: notification.attempts), \(bind: startedAt.microsecondsSince1970),
                    \(bind: Int64(duration)), \(bind: outcomeName), \(bind: bounded))
                ON CONFLICT (notification_id, attempt) DO NOTHING
                """
            ).run()
            return status
        }
    }

    /// Queues a notification in one of `statuses` again, for one more round of attempts
    /// (with the same id, so a receiver that has it already can tell).
    func replay(id: String, allowing statuses: [DeliveryStatus], at now: Date) async throws -> NotificationRecord? {
        let micros = now.microsecondsSince1970
        return try await database.transaction { sql in
            guard
                let row = try await sql.raw(
                    """
                    UPDATE notifications SET status = 'queued', round_start = attempts, next_attempt_at = \(bind: micros),
                        updated_at = \(bind: micros)
                    WHERE id = \(bind: id) AND status IN (\(binds: statuses.map(\.rawValue))) AND data <> '{}'
                    RETURNING \(unsafeRaw: Self.columns)
                    """
                ).first()
            else { return nil }
            return try Self.notification(from: row)
        }
    }

    // MARK: Reads

    func notification(id: String) async throws -> NotificationRecord? {
        try await database.read { sql in
            try await sql.raw("SELECT \(unsafeRaw: Self.columns) FROM notifications WHERE id = \(bind: id)").first().map(Self.notification(from:))
        }
    }

    func attempts(of id: String) async throws -> [DeliveryAttempt] {
        try await database.read { sql in
            try await sql.raw("SELECT * FROM notification_attempts WHERE notification_id = \(bind: id) ORDER BY attempt").all().map { row in
                DeliveryAttempt(
                    attempt: try row.decode(column: "attempt", as: Int.self),
                    startedAt: Date(microsecondsSince1970: try row.decode(column: "started_at", as: Int64.self)),
                    durationMilliseconds: try row.decode(column: "duration_ms", as: Int64.self),
                    outcome: try row.decode(column: "outcome", as: String.self),
                    detail: try row.decode(column: "detail", as: String.self)
                )
            }
        }
    }

    /// What a list may be narrowed to.
    struct Filter: Sendable {
        var userID: Int64?
        var status: DeliveryStatus?
        var channel: NotificationChannel?
        var kind: String?
        var target: String?
        var eventID: String?
    }

    /// Notifications, newest first by default, narrowed by `filter`.
    func list(_ query: ListQuery<NotificationSortField>, filter: Filter) async throws -> ListPage<NotificationRecord> {
        var condition: SQLQueryString = "1 = 1"
        func add(_ column: String, _ value: (some Encodable & Sendable)?) {
            guard let value else { return }
            condition.appendInterpolation(unsafeRaw: " AND \(column) = ")
            condition.appendInterpolation(bind: value)
        }
        add("user_id", filter.userID)
        add("status", filter.status?.rawValue)
        add("channel", filter.channel?.rawValue)
        add("kind", filter.kind)
        add("target", filter.target)
        add("event_id", filter.eventID)
        let list = KeysetList(
            select: "SELECT \(Self.columns) FROM notifications",
            count: "SELECT COUNT(*) AS total FROM notifications",
            filter: condition,
            keyset: ["seq"],
            descending: query.sort.descending,
            sortParameter: query.sort.parameter,
            decode: Self.notification(from:),
            cursorValues: { [$0.sequence] }
        )
        return try await list.fetch(query.pagination) { try await database.read($0) }
    }

    /// How many notifications stand in each status (for tests and `shop` commands).
    func counts() async throws -> [DeliveryStatus: Int] {
        try await database.read { sql in
            var counts: [DeliveryStatus: Int] = [:]
            for row in try await sql.raw("SELECT status, COUNT(*) AS n FROM notifications GROUP BY status").all() {
                if let status = DeliveryStatus(rawValue: try row.decode(column: "status", as: String.self)) {
                    counts[status] = try row.decode(column: "n", as: Int.self)
                }
            }
            return counts
        }
    }

    static func notification(from row: any SQLRow) throws -> NotificationRecord {
        func date(_ column: String) throws -> Date { Date(microsecondsSince1970: try row.decode(column: column, as: Int64.self)) }
        func optional<Value: Decodable>(_ column: String, _ type: Value.Type) throws -> Value? {
            try row.decodeNil(column: column) ? nil : try row.decode(column: column, as: type)
        }
        return NotificationRecord(
            sequence: try row.decode(column: "seq", as: Int64.self),
            id: try row.decode(column: "id", as: String.self),
            eventID: try row.decode(column: "event_id", as: String.self),
            eventType: try row.decode(column: "event_type", as: String.self),
            kind: try row.decode(column: "kind", as: String.self),
            channel: NotificationChannel(rawValue: try row.decode(column: "channel", as: String.self)) ?? .email,
            target: try row.decode(column: "target", as: String.self),
            userID: try optional("user_id", Int64.self),
            orderID: try optional("order_id", String.self),
            locale: try row.decode(column: "locale", as: String.self),
            data: try row.decode(column: "data", as: String.self),
            subject: try optional("subject", String.self),
            status: DeliveryStatus(rawValue: try row.decode(column: "status", as: String.self)) ?? .dead,
            attempts: try row.decode(column: "attempts", as: Int.self),
            roundStart: try row.decode(column: "round_start", as: Int.self),
            nextAttemptAt: try date("next_attempt_at"),
            lastError: try optional("last_error", String.self),
            providerAnswer: try optional("provider_answer", String.self),
            createdAt: try date("created_at"),
            updatedAt: try date("updated_at"),
            sentAt: try optional("sent_at", Int64.self).map(Date.init(microsecondsSince1970:))
        )
    }
}

enum NotificationSortField: String, SortField {
    case createdAt = "created_at"
}
