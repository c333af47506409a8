import Foundation
import Platform
import UserAPI

/// Feeds `user.sessions_ended` into the session cutoffs the guards read.
enum SessionCutoffFeed {
    static let consumerName = "users.session-cutoffs"

    static func consumer(database: any Database, cutoffs: any SessionCutoffs) -> EventConsumer {
        EventConsumer(name: consumerName, types: [UserSessionsEnded.type], database: database) { event, _ in
            let ended = try event.decode(UserSessionsEnded.self)
            try await cutoffs.endSessions(of: ended.userID, at: Date(timeIntervalSince1970: Double(ended.endedAt) / 1000))
        }
    }
}
