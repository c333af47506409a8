import Foundation
import Gateway
import Hummingbird
import PaymentService
import Platform
import Testing

@testable import shop

/// The gateway's route table against what each service really mounts: every documented
/// route goes to a service that serves it, and every route a service serves is reachable.
@Suite struct GatewayRoutesTests {
    /// Each service's public routes as `METHOD /shape`, from the routers the services
    /// themselves fill (all-in-one on SQLite in a fresh folder).
    private func mountedRoutes() async throws -> [String: Set<String>] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("shop-routes-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        var settings = try Settings(environment: TestServer.environment, service: .all)
        settings.dataDirectory = directory.path
        return try await ShopSystem.with(settings, logger: TestServer.logger) { system in
            func routes(_ mount: (Router<ShopRequestContext>) -> Void) -> Set<String> {
                let router = Router(context: ShopRequestContext.self)
                mount(router)
                return Set(router.routes.map { "\($0.method.rawValue) \(GatewayRouteTable.shape($0.path.description))" })
            }
            return [
                "users": routes { router in system.users?.addRoutes(to: router.group("/api/v1")) },
                "products": routes { router in
                    system.products?.addRoutes(to: router.group("/api/v1"))
                    system.products?.addPublicRoutes(to: router)
                },
                "orders": routes { router in system.orders?.addRoutes(to: router.group("/api/v1")) },
                "payments": routes { router in system.payments?.addRoutes(to: router.group("/api/v1")) },
                "notifications": routes { router in system.notifications?.addRoutes(to: router.group("/api/v1")) },
            ]
        }
    }

    @Test func everyRouteGoesToAServiceThatServesIt() async throws {
        let mounted = try await mountedRoutes()
        let table = try ShopSystem.gatewayRouteTable()
        var routed: Set<String> = []
        for route in table.routes {
            let key = "\(route.method.rawValue) \(GatewayRouteTable.shape(route.path))"
            routed.insert(key)
            if route.path == PaymentService.providerWebhookPath {
                // Named after the provider chosen at start: the test network's here.
                #expect(mounted["payments"]?.contains("POST /api/v1/payments/webhooks/test") == true)
                continue
            }
            #expect(mounted[route.upstream]?.contains(key) == true, "\(route) but \(route.upstream) does not serve it")
        }
        for (service, routes) in mounted {
            for route in routes {
                #expect(routed.contains(route), "\(service) serves \(route), which the gateway does not route")
            }
        }
        #expect(Set(table.routes.map(\.upstream)) == Set(ServiceName.upstreams.map(\.service.rawValue)))
    }

    @Test func aPathNoServiceClaimsStopsTheGatewayFromStarting() throws {
        #expect(throws: InvalidValue.self) {
            try GatewayRouteTable(document: Gateway.openAPIDocument, owners: [.init(upstream: "users", prefixes: ["/api/v1/users"])])
        }
    }
}
