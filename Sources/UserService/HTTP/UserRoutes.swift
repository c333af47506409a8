import Foundation
import Hummingbird
import Platform
import UserAPI

/// `/api/v1/users`: the public HTTP face of the Users service.
struct UserRoutes: Sendable {
    let store: UserStore
    let idempotency: IdempotencyStore
    let now: @Sendable () -> Date

    /// Personal data must not be kept by shared caches.
    static let privateHeaders: HTTPFields = [.cacheControl: "private, no-store"]

    func add(to group: RouterGroup<ShopRequestContext>) {
        let users = group.group("users")
        users.get(use: list)
        users.group()
            .add(middleware: IdempotencyMiddleware(store: idempotency, now: now))
            .post(use: create)
        users.get("{id}", use: show)
        users.patch("{id}", use: update)
        users.delete("{id}", use: delete)
    }

    @Sendable func list(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let query = try ListQuery<UserSortField>.parse(
            request.uri, filters: ["email"], defaultSort: SortOrder(.createdAt))
        var validation = Validation()
        let email = query.filters["email"].flatMap { raw in validation.field("email") { () throws(InvalidValue) in try EmailAddress(raw) } }
        try validation.check()
        let page = try await store.list(query, email: email)
        return try page.response(for: request.uri, headers: Self.privateHeaders, UserResource.init)
    }

    @Sendable func create(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let body = try await JSONBody.decode(CreateUserRequest.self, from: request)
        let newUser = try NewUser(validating: body)
        let user = try await store.create(newUser, at: now())
        var headers = Self.privateHeaders
        headers[.location] = "/api/v1/users/\(user.id)"
        return try JSONResponse.success(UserResource(user), status: .created, headers: headers)
    }

    @Sendable func show(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let id = try context.parameters.resourceID("id")
        guard let user = try await store.find(id: id) else { throw UserError.notFound(id: id) }
        return try JSONResponse.success(UserResource(user), headers: Self.privateHeaders)
    }

    @Sendable func update(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let id = try context.parameters.resourceID("id")
        let body = try await JSONBody.decode(UpdateUserRequest.self, from: request)
        let changes = try UserChanges(validating: body)
        let user = try await store.update(id: id, with: changes, at: now())
        return try JSONResponse.success(UserResource(user), headers: Self.privateHeaders)
    }

    @Sendable func delete(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let id = try context.parameters.resourceID("id")
        try await store.delete(id: id, at: now())
        return JSONResponse.noContent()
    }
}
