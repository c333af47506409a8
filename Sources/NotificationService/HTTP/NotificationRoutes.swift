import Crypto
import Foundation
import Hummingbird
import Platform

/// The delivery log over HTTP: a user's own notifications, every notification for admins
/// (searched, read with its attempts, a dead one replayed), and the one-click unsubscribe
/// link of RFC 8058, which needs no login.
struct NotificationRoutes: Sendable {
    let store: NotificationStore
    let unsubscribeKey: SymmetricKey
    let now: @Sendable () -> Date

    static let privateCache: HTTPFields = [.cacheControl: "private, no-store"]
    static let filters: Set<String> = ["status", "channel", "kind", "user_id", "event_id"]

    func add(to group: RouterGroup<ShopRequestContext>) {
        group.restricted(to: .authenticated).get("users/{id}/notifications", use: forUser)
        group.post("unsubscribe", use: unsubscribe)
        let admin = group.group("notifications").restricted(to: .roles(.admin))
        admin.get(use: list)
        admin.get("{id}", use: show)
        admin.post("{id}/replay", use: replay)
    }

    /// A user's own notifications (staff and admins may read anyone's): 404 for another's,
    /// so a customer cannot learn which ids exist.
    @Sendable func forUser(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let userID = try context.parameters.userID("id", caller: principal.userID)
        guard principal.role != .customer || principal.userID == userID else { throw APIError.notFound("User") }
        let query = try ListQuery<NotificationSortField>.parse(
            request.uri,
            filters: ["status", "channel", "kind"],
            defaultSort: SortOrder(.createdAt, descending: true)
        )
        var filter = try Self.filter(query)
        filter.userID = userID
        let page = try await store.list(query, filter: filter)
        return try page.response(for: request.uri, headers: Self.privateCache) { NotificationResource($0) }
    }

    @Sendable func list(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let query = try ListQuery<NotificationSortField>.parse(
            request.uri,
            filters: Self.filters,
            defaultSort: SortOrder(.createdAt, descending: true)
        )
        let page = try await store.list(query, filter: try Self.filter(query))
        return try page.response(for: request.uri, headers: Self.privateCache) { NotificationResource($0) }
    }

    @Sendable func show(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let notification = try await notification(context)
        let attempts = try await store.attempts(of: notification.id)
        return try JSONResponse.success(NotificationResource(notification, attempts: attempts), headers: Self.privateCache)
    }

    /// Queues a dead notification again (after its cause was fixed): 409 for any other state.
    @Sendable func replay(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let notification = try await notification(context)
        guard let queued = try await store.replay(id: notification.id, allowing: [.dead], at: now()) else {
            let why = notification.status == .dead ? "its user was deleted and it keeps nothing to send" : "only a dead one is replayed"
            throw APIError(.conflict, "Notification \(notification.id) is \(notification.status.rawValue); \(why)")
        }
        return try JSONResponse.success(NotificationResource(queued), status: .accepted, headers: Self.privateCache)
    }

    /// RFC 8058: a mail client POSTs `List-Unsubscribe=One-Click` to the link; the token in
    /// it says who and from what. Answering twice is harmless.
    @Sendable func unsubscribe(_ request: Request, context: ShopRequestContext) async throws -> Response {
        var tokens = request.uri.queryParameters.getAll("token").makeIterator()
        guard let raw = tokens.next(), tokens.next() == nil, request.uri.queryParameters.count == 1 else {
            throw APIError.validation("Is required, once, and nothing else", field: "token")
        }
        // A token that fits no signature names nothing here: 404, as for any unknown link.
        guard let token = UnsubscribeToken(verifying: String(raw), with: unsubscribeKey) else {
            throw APIError.notFound("Unsubscribe link")
        }
        // An account deleted meanwhile has nothing left to unsubscribe: the answer is the same.
        try await store.unsubscribe(userID: token.userID, from: token.topic, at: now())
        return try JSONResponse.success(UnsubscribeResource(unsubscribed: true, topic: token.topic.rawValue), headers: Self.privateCache)
    }

    private func notification(_ context: ShopRequestContext) async throws -> NotificationRecord {
        guard let id = context.parameters.get("id"), RandomID.isValid(id, prefix: "ntf"), let notification = try await store.notification(id: id)
        else {
            throw APIError.notFound("Notification")
        }
        return notification
    }

    static func filter(_ query: ListQuery<NotificationSortField>) throws(APIError) -> NotificationStore.Filter {
        var validation = Validation()
        let status = validation.optional("status", query.filters["status"]) { (raw: String) throws(InvalidValue) in
            guard let status = DeliveryStatus(rawValue: raw) else {
                throw InvalidValue("Must be one of \(DeliveryStatus.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return status
        }
        let channel = validation.optional("channel", query.filters["channel"]) { (raw: String) throws(InvalidValue) in
            guard let channel = NotificationChannel(rawValue: raw) else {
                throw InvalidValue("Must be one of \(NotificationChannel.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return channel
        }
        let kinds = NotificationKind.allCases.map(\.rawValue) + WebhookEndpoint.eventTypes
        let kind = validation.optional("kind", query.filters["kind"]) { (raw: String) throws(InvalidValue) in
            guard kinds.contains(raw) else { throw InvalidValue("Must be one of \(kinds.joined(separator: ", "))") }
            return raw
        }
        let userID = validation.optional("user_id", query.filters["user_id"]) { (raw: String) throws(InvalidValue) in
            guard let id = Int64(raw), id > 0 else { throw InvalidValue("Must be a positive integer id") }
            return id
        }
        let eventID = validation.optional("event_id", query.filters["event_id"]) { (raw: String) throws(InvalidValue) in
            guard (1...100).contains(raw.utf8.count), raw.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
                throw InvalidValue("Must be an event id: 1 to 100 printable ASCII characters")
            }
            return raw
        }
        try validation.check()
        return NotificationStore.Filter(userID: userID, status: status, channel: channel, kind: kind, eventID: eventID)
    }
}
