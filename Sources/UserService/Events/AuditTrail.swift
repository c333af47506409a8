import Platform
import UserAPI

/// The audit trail: the Users service consuming its own account events, so an admin
/// can see who registered, changed or left, and which request did it.
enum AuditTrail {
    static let consumerName = "users.audit"

    static func consumer(database: any Database) -> EventConsumer {
        EventConsumer(
            name: consumerName,
            types: [UserRegistered.type, UserUpdated.type, UserDeleted.type, UserSessionsEnded.type],
            database: database
        ) { event, sql in
            let userID: Int64
            var changed: [String] = []
            switch event.type {
            case UserRegistered.type: userID = try event.decode(UserRegistered.self).userID
            case UserUpdated.type:
                let updated = try event.decode(UserUpdated.self)
                userID = updated.userID
                changed = updated.changed
            case UserSessionsEnded.type:
                let ended = try event.decode(UserSessionsEnded.self)
                userID = ended.userID
                changed = [ended.reason]
            default: userID = try event.decode(UserDeleted.self).userID
            }
            try await AuditLog.record(
                eventID: event.id,
                type: event.type,
                userID: userID,
                actorID: event.actorID,
                requestID: event.requestID,
                occurredAt: event.time,
                changed: changed,
                in: sql
            )
        }
    }
}
