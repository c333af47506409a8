import Foundation
import Hummingbird
import Platform
import UserAPI

/// `/api/v1/users`: the public HTTP face of the Users service.
struct UserRoutes: Sendable {
    let accounts: Accounts
    let idempotency: IdempotencyStore
    let now: @Sendable () -> Date
    /// Each user's JSON, by the user's every field: lists and reads send it as it is.
    let encoded = EncodedJSONCache<User>(limit: 10_000)
    /// Whole list pages, while no write has ended since: on the embedded database, where
    /// this process is its only writer, and on PostgreSQL when every instance counts its
    /// writes in Redis; nil otherwise.
    var keptPages: KeptAnswers? = nil
    /// Each user's whole answer, by id, kept as the pages are. Sent only after the caller's
    /// access to that user is checked.
    var keptUsers: KeptAnswers? = nil

    /// Personal data must not be kept by shared caches.
    static let privateHeaders: HTTPFields = [.cacheControl: "private, no-store"]

    func add(to group: RouterGroup<ShopRequestContext>) {
        let users = group.group("users")
        users.group()
            .add(middleware: IdempotencyMiddleware(store: idempotency, now: now))
            .post(use: create)
        users.restricted(to: .roles(.staff, .admin)).get(use: list)
        let signedIn = users.restricted(to: .authenticated)
        signedIn.get("{id}", use: show)
        signedIn.patch("{id}", use: update)
        signedIn.delete("{id}", use: delete)
        signedIn.put("{id}/password", use: changePassword)
        signedIn.get("{id}/preferences", use: preferences)
        signedIn.put("{id}/preferences", use: setPreferences)
    }

    @Sendable func list(_ request: Request, context: ShopRequestContext) async throws -> Response {
        guard let keptPages else { return try await listAnswer(request) }
        // By the path and query as sent: another spelling of the same query is kept apart.
        return try await keptPages.response(for: "\(request.uri.path)?\(request.uri.query ?? "")") { try await listAnswer(request) }
    }

    private func listAnswer(_ request: Request) async throws -> Response {
        let query = try ListQuery<UserSortField>.parse(
            request.uri,
            filters: ["email"],
            defaultSort: SortOrder(.createdAt)
        )
        var validation = Validation()
        let email = validation.optional("email", query.filters["email"], EmailAddress.init(_:))
        try validation.check()
        let page = try await accounts.store.list(query, email: email)
        return try page.response(for: request.uri, headers: Self.privateHeaders) { try json(of: $0) }
    }

    private func json(of user: User) throws -> EncodedJSON {
        try encoded.encoded(user) { try EncodedJSON(encoding: UserResource($0)) }
    }

    @Sendable func create(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let body = try await JSONBody.decode(CreateUserRequest.self, from: request)
        let registration = try Registration(validating: body)
        let user = try await accounts.register(registration, by: context.principal)
        var headers = Self.privateHeaders
        headers[.location] = "/api/v1/users/\(user.id)"
        return try JSONResponse.success(UserResource(user), status: .created, headers: headers)
    }

    @Sendable func show(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let (_, id) = try target(context, .read)
        guard let keptUsers else { return try await userAnswer(id) }
        return try await keptUsers.response(for: String(id)) { try await userAnswer(id) }
    }

    private func userAnswer(_ id: Int64) async throws -> Response {
        guard let user = try await accounts.store.find(id: id) else { throw UserError.notFound(id: id) }
        return try JSONResponse.success(try json(of: user), headers: Self.privateHeaders)
    }

    @Sendable func update(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let (principal, id) = try target(context, .change)
        let body = try await JSONBody.decode(UpdateUserRequest.self, from: request)
        let changes = try UserChanges(validating: body)
        if changes.role != nil { try UserAccess.check(principal, .changeRole, target: id) }
        let user = try await accounts.update(id: id, with: changes)
        return try JSONResponse.success(UserResource(user), headers: Self.privateHeaders)
    }

    @Sendable func delete(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let (_, id) = try target(context, .delete)
        try await accounts.delete(id: id)
        // A deleted user is forgotten here at once; other instances drop what they keep at
        // their next read, when their count of writes is shared (Redis), and otherwise their
        // kept JSON within minutes.
        encoded.removeAll()
        keptPages?.removeAll()
        keptUsers?.removeAll()
        return JSONResponse.noContent()
    }

    @Sendable func changePassword(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let (_, id) = try target(context, .changePassword)
        let body = try await JSONBody.decode(ChangePasswordRequest.self, from: request)
        var validation = Validation()
        let current = validation.required("current_password", body.currentPassword)
        let new = validation.required("new_password", body.newPassword, Password.init(_:))
        let (currentPassword, newPassword) = try validation.check(current, new)
        try await accounts.changePassword(id: id, current: currentPassword, new: newPassword)
        return JSONResponse.noContent()
    }

    @Sendable func preferences(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let (_, id) = try target(context, .read)
        let preferences = try await accounts.store.preferences(id: id)
        return try JSONResponse.success(PreferencesResource(preferences), headers: Self.privateHeaders)
    }

    @Sendable func setPreferences(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let (_, id) = try target(context, .change)
        let body = try await JSONBody.decode(PreferencesRequest.self, from: request)
        let preferences = try Preferences(validating: body)
        try await accounts.store.setPreferences(preferences, id: id, at: now())
        return try JSONResponse.success(PreferencesResource(preferences), headers: Self.privateHeaders)
    }

    /// The caller and the user the path names (`me` is the caller), once the caller is
    /// allowed `action` on that user.
    private func target(_ context: ShopRequestContext, _ action: UserAccess.Action) throws -> (Principal, Int64) {
        let principal = try context.requirePrincipal()
        let id = try context.parameters.userID("id", caller: principal.userID)
        try UserAccess.check(principal, action, target: id)
        return (principal, id)
    }
}
