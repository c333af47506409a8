public import Hummingbird
public import Platform

/// The public edge: one router with request ids, the error envelope, health, the
/// OpenAPI document, and every service's routes under `/api/v1`.
///
/// Authentication, rate limits and routing to remote instances join it here.
public enum Gateway {
    /// The OpenAPI document: the contract that the tests hold the server to.
    public static var openAPIDocument: [UInt8] { PackageResources.openapi_json }

    /// The router for one process.
    /// - Parameters:
    ///   - health: what `/health/ready` asks.
    ///   - mount: adds the services' routes to the `/api/v1` group.
    public static func makeRouter(
        health: [HealthCheck],
        mount: (RouterGroup<ShopRequestContext>) -> Void
    ) -> Router<ShopRequestContext> {
        EdgeRouter.make(health: health) { api in
            api.get("openapi.json") { _, _ in
                Response(
                    status: .ok,
                    headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "public, max-age=300"],
                    body: .init(byteBuffer: ByteBuffer(bytes: openAPIDocument))
                )
            }
            mount(api)
        }
    }
}
