import Foundation
import Platform
import SQLKit

/// Where a user can be reached besides e-mail, kept by this service: their phone number
/// (used once they proved it is theirs) and the devices their apps registered for push.
struct ContactStore: Sendable {
    let store: NotificationStore
    var database: any Database { store.database }

    /// A user's number as it stands.
    struct Phone: Sendable, Hashable {
        var number: String
        var verifiedAt: Date?
        /// When the number replied STOP to the provider: nothing more is sent until it is
        /// entered and verified again.
        var stoppedAt: Date?
        var updatedAt: Date
        /// Whether SMS may go to it.
        var usable: Bool { verifiedAt != nil && stoppedAt == nil }
    }

    enum PhoneFailure: Error, Equatable {
        /// ``VerificationCode/maximumSends`` codes went out in the window, to this user or
        /// to this number; the next may go after this many seconds.
        case tooManyCodes(retryAfter: Int)
    }

    /// The user was deleted: nothing is kept for them any more.
    struct UserForgotten: Error, Equatable {}

    /// Serialises the changes of one user's numbers and devices, and their forgetting, across
    /// instances (a transaction-scoped advisory lock on PostgreSQL; SQLite has one writer).
    static func lockUser(_ userID: Int64, in sql: any SQLDatabase) async throws {
        try await lock("notifications.user:\(userID)", in: sql)
    }

    private static func lock(_ name: String, in sql: any SQLDatabase) async throws {
        guard sql.dialect.name != "sqlite" else { return }
        try await sql.raw("SELECT pg_advisory_xact_lock(hashtextextended(\(bind: name), 0))").run()
    }

    private static func requireKnown(_ userID: Int64, in sql: any SQLDatabase) async throws {
        if try await sql.raw("SELECT 1 AS one FROM forgotten_users WHERE user_id = \(bind: userID)").first() != nil {
            throw UserForgotten()
        }
    }

    /// Counts one more code in a window of ``VerificationCode/sendWindow`` that starts at
    /// `start`; the window and count to keep, or how long until the next may go.
    private static func count(
        sent: Int,
        windowStart start: Int64,
        at micros: Int64
    ) throws(PhoneFailure) -> (sent: Int, windowStart: Int64) {
        let window = Int64(VerificationCode.sendWindow * 1_000_000)
        guard micros - start < window else { return (1, micros) }
        guard sent < VerificationCode.maximumSends else {
            throw .tooManyCodes(retryAfter: Int((start + window - micros) / 1_000_000) + 1)
        }
        return (sent + 1, start)
    }

    enum Verification: Sendable, Equatable {
        case verified(Phone)
        case noPhone
        case noCode
        case expired
        case tooManyAttempts
        case wrongCode(attemptsLeft: Int)
    }

    // MARK: Phone

    func phone(userID: Int64) async throws -> Phone? {
        try await database.read { sql in try await Self.phone(userID: userID, in: sql) }
    }

    /// Sets `number` as the user's, unverified, and queues an SMS with a new code to it in
    /// the same transaction. The number already verified is left as it is (nothing is sent).
    /// The code's SMS is in `locale`, or the user's own language when none is given.
    func setPhone(userID: Int64, number: PhoneNumber, locale: String?, at now: Date) async throws -> (phone: Phone, codeSent: Bool) {
        let micros = now.microsecondsSince1970
        return try await database.transaction { sql in
            // The user's lock, then the number's: two requests never count from the same row.
            try await Self.lockUser(userID, in: sql)
            try await Self.requireKnown(userID, in: sql)
            let row = try await sql.raw("SELECT * FROM phone_numbers WHERE user_id = \(bind: userID)\(unsafeRaw: sql.forUpdate)").first()
            if let row, let current = try Self.phone(from: row), current.number == number.e164, current.usable {
                return (current, false)
            }
            let (sent, windowStart) = try Self.count(
                sent: try row?.decode(column: "codes_sent", as: Int.self) ?? 0,
                windowStart: try row?.decode(column: "codes_window_start", as: Int64.self) ?? micros,
                at: micros
            )
            try await Self.lock("notifications.phone:\(number.e164)", in: sql)
            let sends = try await sql.raw("SELECT * FROM phone_code_sends WHERE phone_number = \(bind: number.e164)").first()
            let (toNumber, numberWindow) = try Self.count(
                sent: try sends?.decode(column: "sent", as: Int.self) ?? 0,
                windowStart: try sends?.decode(column: "window_start", as: Int64.self) ?? micros,
                at: micros
            )
            try await sql.raw(
                """
                INSERT INTO phone_code_sends (phone_number, window_start, sent) VALUES (\(bind: number.e164), \(bind: numberWindow), \(bind: toNumber))
                ON CONFLICT (phone_number) DO UPDATE SET window_start = excluded.window_start, sent = excluded.sent
                """
            ).run()
            let nonce = RandomID.make("pv")
            let expires = now.addingTimeInterval(VerificationCode.lifetime).microsecondsSince1970
            try await sql.raw(
                """
                INSERT INTO phone_numbers (user_id, phone_number, verified_at, nonce, code_expires_at, code_attempts, codes_sent,
                    codes_window_start, stopped_at, updated_at)
                VALUES (\(bind: userID), \(bind: number.e164), NULL, \(bind: nonce), \(bind: expires), 0, \(bind: sent),
                    \(bind: windowStart), NULL, \(bind: micros))
                ON CONFLICT (user_id) DO UPDATE SET phone_number = excluded.phone_number, verified_at = NULL, nonce = excluded.nonce,
                    code_expires_at = excluded.code_expires_at, code_attempts = 0, codes_sent = excluded.codes_sent,
                    codes_window_start = excluded.codes_window_start, stopped_at = NULL, updated_at = excluded.updated_at
                """
            ).run()
            var language = locale
            if language == nil { language = try await store.recipient(userID: userID, in: sql)?.locale }
            var context = MessageContext()
            context.verificationNonce = nonce
            context.userID = userID
            try await store.enqueue(
                [
                    NewNotification(
                        kind: NotificationKind.phoneVerification.rawValue,
                        channel: .sms,
                        target: number.e164,
                        userID: userID,
                        locale: language ?? "en",
                        data: try context.encoded()
                    )
                ],
                eventID: nonce,
                eventType: "phone.verification_requested",
                at: now,
                in: sql
            )
            return (Phone(number: number.e164, verifiedAt: nil, stoppedAt: nil, updatedAt: now), true)
        }
    }

    /// Checks `code` against the pending one: a match verifies the number; a miss counts
    /// (and is kept, whatever the caller does next).
    func verify(userID: Int64, code: String, codes: VerificationCode, at now: Date) async throws -> Verification {
        let micros = now.microsecondsSince1970
        return try await database.transaction { sql in
            guard let row = try await sql.raw("SELECT * FROM phone_numbers WHERE user_id = \(bind: userID)\(unsafeRaw: sql.forUpdate)").first(),
                let phone = try Self.phone(from: row)
            else { return .noPhone }
            if phone.usable { return .verified(phone) }
            guard try !row.decodeNil(column: "nonce") else { return .noCode }
            let nonce = try row.decode(column: "nonce", as: String.self)
            let attempts = try row.decode(column: "code_attempts", as: Int.self)
            guard try row.decode(column: "code_expires_at", as: Int64.self) > micros else { return .expired }
            guard attempts < VerificationCode.maximumAttempts else { return .tooManyAttempts }
            guard codes.matches(code, userID: userID, phone: phone.number, nonce: nonce) else {
                try await sql.raw(
                    "UPDATE phone_numbers SET code_attempts = code_attempts + 1, updated_at = \(bind: micros) WHERE user_id = \(bind: userID)"
                ).run()
                return .wrongCode(attemptsLeft: VerificationCode.maximumAttempts - attempts - 1)
            }
            try await sql.raw(
                """
                UPDATE phone_numbers SET verified_at = \(bind: micros), nonce = NULL, code_expires_at = NULL, stopped_at = NULL,
                    updated_at = \(bind: micros)
                WHERE user_id = \(bind: userID)
                """
            ).run()
            return .verified(Phone(number: phone.number, verifiedAt: now, stoppedAt: nil, updatedAt: now))
        }
    }

    /// Removes the user's number. The count of codes sent stays, so removing and entering
    /// a number again does not send more of them.
    func deletePhone(userID: Int64, at now: Date) async throws -> Bool {
        try await database.transaction { sql in
            let row = try await sql.raw(
                """
                UPDATE phone_numbers SET phone_number = '', verified_at = NULL, nonce = NULL, code_expires_at = NULL, stopped_at = NULL,
                    updated_at = \(bind: now.microsecondsSince1970)
                WHERE user_id = \(bind: userID) AND phone_number <> ''
                RETURNING user_id
                """
            ).first()
            return row != nil
        }
    }

    /// The provider says `number` asked for no more messages (it replied STOP).
    func stopPhone(userID: Int64, number: String, at now: Date) async throws {
        try await database.transaction { sql in
            try await sql.raw(
                """
                UPDATE phone_numbers SET stopped_at = \(bind: now.microsecondsSince1970), updated_at = \(bind: now.microsecondsSince1970)
                WHERE user_id = \(bind: userID) AND phone_number = \(bind: number)
                """
            ).run()
        }
    }

    /// Whether `nonce` is still the user's pending code for `number`: not used, replaced or
    /// expired.
    func isPending(userID: Int64, number: String, nonce: String, at now: Date) async throws -> Bool {
        try await database.read { sql in
            try await sql.raw(
                """
                SELECT 1 AS one FROM phone_numbers
                WHERE user_id = \(bind: userID) AND phone_number = \(bind: number) AND nonce = \(bind: nonce)
                    AND code_expires_at > \(bind: now.microsecondsSince1970)
                """
            ).first() != nil
        }
    }

    /// Forgets the codes counted for numbers whose window has passed.
    func purgeCodeCounts(before: Date) async throws {
        try await database.transaction { sql in
            try await sql.raw("DELETE FROM phone_code_sends WHERE window_start < \(bind: before.microsecondsSince1970)").run()
        }
    }

    /// The number SMS may go to, inside a consumer's transaction.
    func usablePhone(userID: Int64, in sql: any SQLDatabase) async throws -> String? {
        guard let phone = try await Self.phone(userID: userID, in: sql), phone.usable else { return nil }
        return phone.number
    }

    private static func phone(userID: Int64, in sql: any SQLDatabase) async throws -> Phone? {
        guard let row = try await sql.raw("SELECT * FROM phone_numbers WHERE user_id = \(bind: userID)").first() else { return nil }
        return try phone(from: row)
    }

    private static func phone(from row: any SQLRow) throws -> Phone? {
        let number = try row.decode(column: "phone_number", as: String.self)
        guard !number.isEmpty else { return nil }
        func date(_ column: String) throws -> Date? {
            try row.decodeNil(column: column) ? nil : Date(microsecondsSince1970: try row.decode(column: column, as: Int64.self))
        }
        return Phone(
            number: number,
            verifiedAt: try date("verified_at"),
            stoppedAt: try date("stopped_at"),
            updatedAt: try date("updated_at") ?? Date(timeIntervalSince1970: 0)
        )
    }

    // MARK: Devices

    /// Registers `token` for the user: a token already known moves to this user (the app
    /// was signed into another account) and counts as seen; a user's devices beyond
    /// ``Device/maximumPerUser`` lose the one seen longest ago.
    func register(userID: Int64, token: String, platform: Device.Platform, at now: Date) async throws -> (device: Device, created: Bool) {
        let micros = now.microsecondsSince1970
        let id = RandomID.make("dev")
        return try await database.transaction { sql in
            // One registration of a user's at a time, so the trim below sees every device.
            try await Self.lockUser(userID, in: sql)
            try await Self.requireKnown(userID, in: sql)
            guard
                let row = try await sql.raw(
                    """
                    INSERT INTO devices (id, user_id, token, platform, created_at, last_seen_at)
                    VALUES (\(bind: id), \(bind: userID), \(bind: token), \(bind: platform.rawValue), \(bind: micros), \(bind: micros))
                    ON CONFLICT (token) DO UPDATE SET user_id = excluded.user_id, platform = excluded.platform,
                        last_seen_at = excluded.last_seen_at
                    RETURNING *
                    """
                ).first()
            else { throw NotReturned() }
            let device = try Self.device(from: row)
            try await sql.raw(
                """
                DELETE FROM devices WHERE user_id = \(bind: userID) AND id NOT IN (
                    SELECT id FROM devices WHERE user_id = \(bind: userID) ORDER BY last_seen_at DESC, seq DESC LIMIT \(bind: Device.maximumPerUser))
                """
            ).run()
            return (device, device.id == id)
        }
    }

    func devices(userID: Int64) async throws -> [Device] {
        try await database.read { sql in
            try await sql.raw("SELECT * FROM devices WHERE user_id = \(bind: userID) ORDER BY created_at, seq").all().map(Self.device(from:))
        }
    }

    /// Devices of a user, inside a consumer's transaction.
    func devices(userID: Int64, in sql: any SQLDatabase) async throws -> [Device] {
        try await sql.raw("SELECT * FROM devices WHERE user_id = \(bind: userID) ORDER BY created_at, seq").all().map(Self.device(from:))
    }

    func device(id: String) async throws -> Device? {
        try await database.read { sql in
            try await sql.raw("SELECT * FROM devices WHERE id = \(bind: id)").first().map(Self.device(from:))
        }
    }

    /// Forgets a device; `userID` limits it to that user's. Returns whether one was there.
    @discardableResult
    func deleteDevice(id: String, userID: Int64? = nil) async throws -> Bool {
        try await database.transaction { sql in
            let row: (any SQLRow)?
            if let userID {
                row = try await sql.raw("DELETE FROM devices WHERE id = \(bind: id) AND user_id = \(bind: userID) RETURNING id").first()
            } else {
                row = try await sql.raw("DELETE FROM devices WHERE id = \(bind: id) RETURNING id").first()
            }
            return row != nil
        }
    }

    private static func device(from row: any SQLRow) throws -> Device {
        Device(
            id: try row.decode(column: "id", as: String.self),
            userID: try row.decode(column: "user_id", as: Int64.self),
            token: try row.decode(column: "token", as: String.self),
            platform: Device.Platform(rawValue: try row.decode(column: "platform", as: String.self)) ?? .android,
            createdAt: Date(microsecondsSince1970: try row.decode(column: "created_at", as: Int64.self)),
            lastSeenAt: Date(microsecondsSince1970: try row.decode(column: "last_seen_at", as: Int64.self))
        )
    }

    /// An insert returned no row, which a working database never does.
    struct NotReturned: Error {}
}
