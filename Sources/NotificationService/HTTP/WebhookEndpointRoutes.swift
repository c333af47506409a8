import Foundation
import Hummingbird
import Platform

/// `/api/v1/webhook-endpoints`: admins register the URLs of the merchant's systems, choose
/// the events each hears, read what was delivered to it, and send a delivery again.
struct WebhookEndpointRoutes: Sendable {
    let endpoints: WebhookEndpointStore
    let store: NotificationStore
    let policy: WebhookAddressPolicy
    let idempotency: IdempotencyMiddleware
    let now: @Sendable () -> Date

    static let privateCache: HTTPFields = [.cacheControl: "private, no-store"]

    func add(to group: RouterGroup<ShopRequestContext>) {
        let admin = group.group("webhook-endpoints").restricted(to: .roles(.admin)).add(middleware: idempotency)
        admin.post(use: create)
        admin.get(use: list)
        admin.get("{id}", use: show)
        admin.patch("{id}", use: update)
        admin.delete("{id}", use: delete)
        admin.get("{id}/deliveries", use: deliveries)
        admin.post("{id}/deliveries/{delivery_id}/resend", use: resend)
    }

    @Sendable func create(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let body = try await JSONBody.decode(WebhookEndpointRequest.self, from: request)
        var validation = Validation()
        let url = validation.required("url", body.url) { (raw: String) throws(InvalidValue) in
            try TextBounds.checkLine(raw, characters: 1...WebhookAddressPolicy.maximumURLLength)
            return raw
        }
        let types = validation.required("event_types", body.eventTypes, Self.eventTypes)
        let description = validation.optional("description", body.description, Self.description) ?? ""
        // The address must reach the public internet now; it is checked again at every send.
        if let url {
            do {
                _ = try await policy.check(url)
            } catch {
                validation.invalid("url", error.message)
            }
        }
        let (address, eventTypes) = try validation.check(url, types)
        let endpoint: WebhookEndpoint
        do {
            endpoint = try await endpoints.create(
                url: address,
                description: description,
                eventTypes: eventTypes,
                secret: WebhookSignature.generateSecret(),
                at: now()
            )
        } catch WebhookEndpointStore.Failure.tooMany {
            throw APIError(.conflict, "There are \(WebhookEndpoint.maxEndpoints) endpoints already; delete one first")
        }
        var headers = Self.privateCache
        headers[.location] = "/api/v1/webhook-endpoints/\(endpoint.id)"
        return try JSONResponse.success(WebhookEndpointResource(endpoint, showingSecret: true), status: .created, headers: headers)
    }

    @Sendable func list(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let query = try ListQuery<NotificationSortField>.parse(request.uri, defaultSort: SortOrder(.createdAt))
        let page = try await endpoints.list(query)
        return try page.response(for: request.uri, headers: Self.privateCache) { WebhookEndpointResource($0) }
    }

    @Sendable func show(_ request: Request, context: ShopRequestContext) async throws -> Response {
        try JSONResponse.success(WebhookEndpointResource(try await endpoint(context)), headers: Self.privateCache)
    }

    @Sendable func update(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let current = try await endpoint(context)
        let body = try await JSONBody.decode(WebhookEndpointChange.self, from: request)
        var validation = Validation()
        let types = validation.optional("event_types", body.eventTypes, Self.eventTypes)
        let description = validation.optional("description", body.description, Self.description)
        try validation.check()
        guard let updated = try await endpoints.update(id: current.id, eventTypes: types, description: description, enabled: body.enabled, at: now())
        else { throw APIError.notFound("Webhook endpoint") }
        return try JSONResponse.success(WebhookEndpointResource(updated), headers: Self.privateCache)
    }

    @Sendable func delete(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let endpoint = try await endpoint(context)
        guard try await endpoints.delete(id: endpoint.id) else { throw APIError.notFound("Webhook endpoint") }
        return JSONResponse.noContent()
    }

    @Sendable func deliveries(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let endpoint = try await endpoint(context)
        let query = try ListQuery<NotificationSortField>.parse(
            request.uri,
            filters: ["status"],
            defaultSort: SortOrder(.createdAt, descending: true)
        )
        var filter = try NotificationRoutes.filter(query)
        (filter.channel, filter.target) = (.webhook, endpoint.id)
        let page = try await store.list(query, filter: filter)
        return try page.response(for: request.uri, headers: Self.privateCache) { NotificationResource($0) }
    }

    /// Sends a delivery again, with its `webhook-id` (a receiver that lost it takes it; one
    /// that has it drops it): 409 while it is still on its way.
    @Sendable func resend(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let endpoint = try await endpoint(context)
        guard let id = context.parameters.get("delivery_id"), RandomID.isValid(id, prefix: "ntf"),
            let delivery = try await store.notification(id: id), delivery.channel == .webhook, delivery.target == endpoint.id
        else { throw APIError.notFound("Delivery") }
        guard endpoint.enabled else { throw APIError(.conflict, "Webhook endpoint \(endpoint.id) is disabled; enable it first") }
        guard let queued = try await store.replay(id: delivery.id, allowing: [.dead, .sent], at: now()) else {
            throw APIError(.conflict, "Delivery \(delivery.id) is \(delivery.status.rawValue); it is on its way already")
        }
        return try JSONResponse.success(NotificationResource(queued), status: .accepted, headers: Self.privateCache)
    }

    private func endpoint(_ context: ShopRequestContext) async throws -> WebhookEndpoint {
        guard let id = context.parameters.get("id"), RandomID.isValid(id, prefix: "we"), let endpoint = try await endpoints.endpoint(id: id) else {
            throw APIError.notFound("Webhook endpoint")
        }
        return endpoint
    }

    static func eventTypes(_ raw: [String]) throws(InvalidValue) -> [String] {
        guard !raw.isEmpty, raw.count <= WebhookEndpoint.eventTypes.count else {
            throw InvalidValue("Must name 1 to \(WebhookEndpoint.eventTypes.count) event types")
        }
        guard let unknown = raw.first(where: { !WebhookEndpoint.eventTypes.contains($0) }) else {
            // Each once, in the documented order.
            return WebhookEndpoint.eventTypes.filter(raw.contains)
        }
        throw InvalidValue("Unknown event type '\(unknown.prefix(60))'; one of \(WebhookEndpoint.eventTypes.joined(separator: ", "))")
    }

    static func description(_ raw: String) throws(InvalidValue) -> String {
        try TextBounds.checkLine(raw, characters: 0...200)
        return raw
    }
}
