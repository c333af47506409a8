import Hummingbird
import Platform
import UserAPI

/// `/api/v1/audit-events`: the account audit trail, for admins.
struct AuditRoutes: Sendable {
    let log: AuditLog

    func add(to group: RouterGroup<ShopRequestContext>) {
        group.group("audit-events").restricted(to: .roles(.admin)).get(use: list)
    }

    @Sendable func list(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let query = try ListQuery<AuditSortField>.parse(request.uri, filters: ["user_id"], defaultSort: SortOrder(.id, descending: true))
        var validation = Validation()
        let userID = validation.optional("user_id", query.filters["user_id"]) { (raw: String) throws(InvalidValue) in
            guard let id = Int64(raw), id > 0 else { throw InvalidValue("Must be a positive integer id") }
            return id
        }
        try validation.check()
        let page = try await log.list(query, userID: userID)
        return try page.response(for: request.uri, headers: UserRoutes.privateHeaders, AuditEventResource.init)
    }
}

extension AuditEventResource {
    init(_ entry: AuditEntry) {
        self.init(
            id: entry.id,
            eventID: entry.eventID,
            type: entry.type,
            userID: entry.userID,
            actorID: entry.actorID,
            requestID: entry.requestID,
            occurredAt: entry.occurredAt,
            changed: entry.changed
        )
    }
}
