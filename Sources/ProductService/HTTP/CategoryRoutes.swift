import Foundation
import Hummingbird
import Platform
import ProductAPI

/// `/api/v1/categories`: the category tree, read by everyone, grown by staff.
struct CategoryRoutes: Sendable {
    let categories: CategoryStore
    /// After a change: product lists by category read the database again.
    let changed: @Sendable () async -> Void
    let now: @Sendable () -> Date

    /// How categories are sorted: in tree order, a parent before its children.
    enum Order: String, CaseIterable, Sendable, SortField {
        case tree
    }

    func add(to group: RouterGroup<ShopRequestContext>) {
        let routes = group.group("categories")
        let reads = routes.group().add(middleware: ContentETagMiddleware())
        reads.get(use: list)
        reads.get("{id}", use: show)
        let staff = routes.restricted(to: .roles(.staff, .admin))
        staff.post(use: create)
        staff.patch("{id}", use: update)
    }

    @Sendable func list(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let query = try ListQuery<Order>.parse(request.uri, defaultSort: SortOrder(.tree))
        guard case .page(let number, let perPage) = query.pagination else {
            throw APIError.validation("Categories are paged with page and per_page", field: "cursor")
        }
        let page = try await categories.list(page: number, perPage: perPage)
        return try page.response(for: request.uri, headers: [.cacheControl: ProductRoutes.publicCache], CategoryResource.init)
    }

    @Sendable func show(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let id = try context.parameters.resourceID("id")
        guard let category = try await categories.find(id: id) else { throw APIError.notFound("Category") }
        return try JSONResponse.success(CategoryResource(category), headers: [.cacheControl: ProductRoutes.publicCache])
    }

    @Sendable func create(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let body = try await JSONBody.decode(CreateCategoryRequest.self, from: request)
        var validation = Validation()
        let slug = validation.required("slug", body.slug, Slug.init(_:))
        let name = validation.required("name", body.name, ProductText.name)
        let (validSlug, validName) = try validation.check(slug, name)
        let category = try await categories.create(slug: validSlug, name: validName, parentID: body.parentID, at: now())
        await changed()
        return try JSONResponse.success(
            CategoryResource(category),
            status: .created,
            headers: [.location: "/api/v1/categories/\(category.id)", .cacheControl: "no-store"]
        )
    }

    @Sendable func update(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let id = try context.parameters.resourceID("id")
        let body = try await JSONBody.decode(UpdateCategoryRequest.self, from: request)
        var validation = Validation()
        var slug: Slug?
        var name: String?
        var parent: Int64??
        slug = validation.change("slug", body.slug, Slug.init(_:))
        name = validation.change("name", body.name, ProductText.name)
        switch body.parentID {
        case .absent: break
        case .null: parent = .some(nil)
        case .value(let id): parent = .some(id)
        }
        try validation.check()
        guard let category = try await categories.update(id: id, slug: slug, name: name, parentID: parent) else {
            throw APIError.notFound("Category")
        }
        await changed()
        return try JSONResponse.success(CategoryResource(category), headers: [.cacheControl: "no-store"])
    }
}
