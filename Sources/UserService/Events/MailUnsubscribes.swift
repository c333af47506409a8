import Foundation
import NotificationAPI
import Platform

/// A one-click unsubscribe made in Notifications turns the matching preference off here,
/// where preferences live: the account page shows it, and the next change a user makes
/// starts from it instead of quietly subscribing them again.
enum MailUnsubscribes {
    static func consumer(store: UserStore) -> EventConsumer {
        EventConsumer(name: "users.unsubscribes", types: [NotificationUnsubscribed.type], database: store.database) { event, sql in
            let unsubscribed = try event.decode(NotificationUnsubscribed.self)
            try await store.unsubscribe(
                id: unsubscribed.userID,
                fromOrderEmails: unsubscribed.topic == "orders",
                fromMarketing: unsubscribed.topic == "marketing",
                at: event.time,
                in: sql
            )
        }
    }
}
