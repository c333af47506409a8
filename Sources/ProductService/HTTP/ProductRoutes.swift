import Foundation
import Hummingbird
import Platform
import ProductAPI

/// `/api/v1/products`: the catalog for everyone, its changes for staff.
struct ProductRoutes: Sendable {
    let catalog: CatalogStore
    let inventory: Inventory
    let images: ImageStore
    let imageSettings: ImageSettings
    /// Product reads and list pages between catalog changes; `nil` reads the database every time.
    let cache: CatalogCache?
    /// Stock kept in memory until the next write, all-in-one on SQLite.
    var stock: StockSnapshot? = nil
    let now: @Sendable () -> Date

    /// Shared caches may keep catalog reads for a minute; `If-None-Match` revalidates.
    static let publicCache = "public, max-age=60"

    /// Adds the routes; answers the staff group, for the image routes.
    @discardableResult
    func add(to group: RouterGroup<ShopRequestContext>, idempotency: IdempotencyMiddleware) -> RouterGroup<ShopRequestContext> {
        let products = group.group("products")
        products.group().add(middleware: ContentETagMiddleware()).get(use: list)
        products.get("{id}", use: show)
        products.get("by-slug/{slug}", use: showBySlug)
        let staff = products.restricted(to: .roles(.staff, .admin)).add(middleware: idempotency)
        staff.post(use: create)
        staff.patch("{id}", use: update)
        staff.post("{id}/archive", use: archive)
        staff.post("{id}/inventory/adjustments", use: adjust)
        return staff
    }

    @Sendable func list(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let query = try ListQuery<ProductSortField>.parse(
            request.uri,
            filters: ["status", "min_price", "max_price", "category_id", "q"],
            defaultSort: SortOrder(.createdAt, descending: true)
        )
        let filter = try ProductListFilter(query.filters, principal: context.principal)
        let key =
            "list:\(filter.statuses.map(\.rawValue).joined(separator: ",")):\((request.uri.query ?? "").split(separator: "&").sorted().joined(separator: "&"))"
        var loaded: [Int64: Int] = [:]
        let (cached, fresh, counts) = try await read(key, as: CachedListBody.self) {
            let page = try await catalog.list(
                query,
                statuses: filter.statuses,
                minPrice: filter.minPrice,
                maxPrice: filter.maxPrice,
                category: filter.category,
                search: filter.search
            )
            loaded = Dictionary(page.items.map { ($0.0.id, $0.available) }) { first, _ in first }
            return try Self.listBody(try await resources(page.items), of: page)
        }
        // Stock moves with every sale: it is never served from the cache, always read now
        // (a page just loaded read it with the products, and seeds it for the next read).
        if fresh { await seed(loaded) }
        let available = fresh ? loaded : try await liveStock(of: cached.template.productIDs, known: counts)
        var headers: HTTPFields = [.cacheControl: filter.statuses == [.active] ? Self.publicCache : "private, no-store"]
        headers[.vary] = "Authorization"
        headers[.link] = cached.page.linkHeader(for: request.uri)
        // The ETag from the page's digest and its counts: the same as one made from the
        // bytes would be in effect (it changes with either), without hashing the page.
        let etag = cached.template.etag(with: available)
        headers[.eTag] = etag
        if IfNoneMatch.matches(request.headers[.ifNoneMatch], etag) { return Response(status: .notModified, headers: headers) }
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: cached.template.filled(with: available)))
    }

    @Sendable func show(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let id = try context.parameters.resourceID("id")
        var loaded: [Int64: Int] = [:]
        let (found, fresh, counts) = try await read("product:\(id)", as: CachedProductBody?.self) {
            try await productBody(try await catalog.find(id: id), loaded: &loaded)
        }
        if fresh { await seed(loaded) }
        return try await respond(with: found, stock: fresh ? loaded : counts, to: request, context: context)
    }

    @Sendable func showBySlug(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let raw = context.parameters.get("slug") ?? ""
        guard let slug = try? Slug(raw) else { throw APIError.validation("Must be 1 to 100 lower-case letters, digits and inner '-'", field: "slug") }
        var loaded: [Int64: Int] = [:]
        let (found, fresh, counts) = try await read("slug:\(slug.value)", as: CachedProductBody?.self) {
            try await productBody(try await catalog.find(slug: slug.value), loaded: &loaded)
        }
        if fresh { await seed(loaded) }
        return try await respond(with: found, stock: fresh ? loaded : counts, to: request, context: context)
    }

    /// A product read: customers see active products only; `If-None-Match` answers 304.
    /// `stock` holds the counts already known (read with a product just loaded, or beside a
    /// cached one); the rest is read now.
    private func respond(
        with found: CachedProductBody?,
        stock: [Int64: Int],
        to request: Request,
        context: ShopRequestContext
    ) async throws -> Response {
        guard let found, found.active || context.principal?.role.isStaff == true else { throw CatalogError.notFound(id: 0) }
        let etag = VersionETag.make(id: found.id, version: found.version)
        var headers: HTTPFields = [.eTag: etag, .cacheControl: found.active ? Self.publicCache : "private, no-store"]
        headers[.vary] = "Authorization"
        if IfNoneMatch.matches(request.headers[.ifNoneMatch], etag) {
            return Response(status: .notModified, headers: headers)
        }
        let available = try await liveStock(of: [found.id], known: stock)
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: found.template.filled(with: available)))
    }

    /// A product's answer with a hole for its stock; the stock read with it goes to `loaded`.
    private func productBody(_ found: (Product, available: Int)?, loaded: inout [Int64: Int]) async throws -> CachedProductBody? {
        guard let (product, available) = found else { return nil }
        loaded = [product.id: available]
        var resource = try await resources([(product, available)])[0]
        resource.available = StockTemplate.placeholder
        let encoded = try ResponseJSONEncoder.encode(Envelope(data: resource))
        guard let template = StockTemplate(encoded: encoded, productIDs: [product.id]) else { throw TemplateMismatch() }
        return CachedProductBody(template: template, id: product.id, version: product.version, active: product.status == .active)
    }

    /// A list page's answer with a hole for each product's stock.
    static func listBody(_ resources: [ProductResource], of page: ListPage<(Product, available: Int)>) throws -> CachedListBody {
        let items = resources.map { resource in
            var resource = resource
            resource.available = StockTemplate.placeholder
            return resource
        }
        let encoded: [UInt8]
        switch page {
        case .page(_, let number, let perPage, let total):
            encoded = try ResponseJSONEncoder.encode(Envelope(data: items, meta: PageMeta(page: number, perPage: perPage, total: total)))
        case .cursor(_, let perPage, let next):
            encoded = try ResponseJSONEncoder.encode(Envelope(data: items, meta: CursorMeta(perPage: perPage, nextCursor: next?.token)))
        }
        let ids = resources.map(\.id)
        guard let template = StockTemplate(encoded: encoded, productIDs: ids) else { throw TemplateMismatch() }
        return CachedListBody(template: template, page: page.replacingItems(with: ids))
    }

    /// An answer encoded with a placeholder per product did not show each exactly once:
    /// a change of the resource's encoding that the cache must learn about.
    struct TemplateMismatch: Error {}

    /// The live stock of `productIDs`: what `known` holds (the counts in Redis, read with
    /// the cache entry), the rest from the database, which then seeds those counts in Redis
    /// for the next read.
    private func liveStock(of productIDs: [Int64], known: [Int64: Int]) async throws -> [Int64: Int] {
        let missing = productIDs.filter { known[$0] == nil }
        guard !missing.isEmpty else { return known }
        let catalog = self.catalog
        let read =
            if let stock {
                try await stock.available(of: missing) { try await catalog.available(of: $0) }
            } else {
                try await catalog.available(of: missing)
            }
        await seed(read)
        return known.merging(read) { _, database in database }
    }

    /// Counts just read from the database, written to Redis where it has none, so that the
    /// next read of those products needs no query: only where no count exists, since one
    /// that does belongs to a reservation in flight. A product's first read seeds its count
    /// too; before, it took a second read, which queried its stock alone.
    private func seed(_ read: [Int64: Int]) async {
        guard !read.isEmpty, let counts = inventory.cache, cache?.stockPrefix != nil else { return }
        try? await counts.seed(read)
    }

    /// `load()`'s answer, through the cache when there is one; `fresh` when it was loaded
    /// now (so its stock is current).
    private func read<Value: CatalogCacheValue>(
        _ key: String,
        as type: Value.Type,
        load: () async throws -> Value
    ) async throws -> (value: Value, fresh: Bool, counts: [Int64: Int]) {
        guard let cache else { return (try await load(), true, [:]) }
        return try await cache.value(key, as: type, load: load)
    }

    /// The API's view of `products` with their images, in one query.
    private func resources(_ products: [(Product, available: Int)]) async throws -> [ProductResource] {
        let images = try await images.images(of: products.map(\.0.id))
        return products.map { product, available in
            var resource = ProductResource(product, available: available)
            resource.images = (images[product.id] ?? []).map { ProductImageResource($0, url: imageSettings.url(of: $0)) }
            return resource
        }
    }

    /// After a change: every instance's next read goes to the database.
    func catalogChanged(_ productID: Int64) async {
        await cache?.invalidate()
    }

    @Sendable func create(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let body = try await JSONBody.decode(CreateProductRequest.self, from: request)
        let product = try await catalog.create(try NewProduct(validating: body), at: now())
        await catalogChanged(product.id)
        let headers: HTTPFields = [
            .location: "/api/v1/products/\(product.id)", .eTag: VersionETag.make(id: product.id, version: product.version), .cacheControl: "no-store",
        ]
        return try JSONResponse.success(ProductResource(product, available: 0), status: .created, headers: headers)
    }

    @Sendable func update(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let id = try context.parameters.resourceID("id")
        let expected = try Self.expectedVersion(request, id: id)
        let body = try await JSONBody.decode(UpdateProductRequest.self, from: request)
        return try await change(id, with: try ProductChanges(validating: body), expectedVersion: expected)
    }

    /// Takes a product off sale for good: it leaves the lists and cannot be reserved, and
    /// stays readable by staff for the orders that name it.
    @Sendable func archive(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let id = try context.parameters.resourceID("id")
        return try await change(id, with: ProductChanges(status: .archived), expectedVersion: try Self.expectedVersion(request, id: id))
    }

    private func change(_ id: Int64, with changes: ProductChanges, expectedVersion expected: Int?) async throws -> Response {
        let (product, available) = try await catalog.update(id: id, with: changes, expectedVersion: expected, at: now())
        await catalogChanged(id)
        let resource = try await resources([(product, available)])[0]
        return try JSONResponse.success(
            resource,
            headers: [.eTag: VersionETag.make(id: product.id, version: product.version), .cacheControl: "no-store"]
        )
    }

    @Sendable func adjust(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let id = try context.parameters.resourceID("id")
        let body = try await JSONBody.decode(StockAdjustmentRequest.self, from: request)
        var validation = Validation()
        let change = validation.required("change", body.change) { (change: Int) throws(InvalidValue) in
            guard change != 0, change.magnitude <= 1_000_000 else { throw InvalidValue("Must be a non-zero number of units up to 1000000") }
            return change
        }
        let reason = validation.required("reason", body.reason) { (reason: String) throws(InvalidValue) in
            guard reason.utf8.count <= TextBounds.maxBytes(forCharacters: 200), !reason.trimmingCharacters(in: .whitespaces).isEmpty,
                TextBounds.length(reason) <= 200, !ProductText.hasControlCharacters(reason, allowing: [])
            else { throw InvalidValue("Must be 1 to 200 characters (800 bytes), no control characters") }
            return reason
        }
        let (units, why) = try validation.check(change, reason)
        let level = try await inventory.adjust(productID: id, by: units, reason: why, at: now())
        return try JSONResponse.success(
            StockResource(productID: id, onHand: level.onHand, reserved: level.reserved, available: level.available),
            status: .created,
            headers: [.cacheControl: "no-store"]
        )
    }

    /// The version `If-Match` names, `nil` without the header; an ETag of another product
    /// or none of ours is a stale version (409).
    static func expectedVersion(_ request: Request, id: Int64) throws(CatalogError) -> Int? {
        guard let match = request.headers[.ifMatch] else { return nil }
        guard let version = VersionETag.version(match, id: id) else { throw .staleVersion(current: 0) }
        return version
    }
}
