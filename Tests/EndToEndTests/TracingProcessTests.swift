import Foundation
import Platform
import TestSupport
import Testing

/// Traces across processes: the gateway and every service as their own `shop serve`
/// processes on PostgreSQL and one Redis, exporting spans over OTLP/HTTP to a receiver in
/// the test. One checkout through the gateway is one trace, in one tree: the gateway's
/// span, the services it called and the consumer that took the order's event.
@Suite struct TracingProcessTests {
    typealias ShopProcess = ProcessTests.ShopProcess

    @Test(.enabled(if: TestDatabases.postgresAvailable && RedisServer.available))
    func aCheckoutThroughTheGatewayIsOneConnectedTraceAndItsIDIsInTheLogs() async throws {
        let receiver = try await OTLPReceiver.start()
        defer { receiver.stop() }
        try await ProcessBackends.with(databases: 5) { backends, databases in
            let shared = backends.merging([
                "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json", "OTEL_BSP_SCHEDULE_DELAY": "100",
                "LOG_FORMAT": "json",
            ]) { $1 }
            func environment(_ database: DatabaseURL, _ more: [String: String] = [:]) -> [String: String] {
                ProcessBackends.environment(shared, database: database, more)
            }
            let (usersDB, productsDB, paymentsDB, ordersDB, notificationsDB) = (databases[0], databases[1], databases[2], databases[3], databases[4])
            try await ProcessBackends.createAdmin(shared, usersDatabase: usersDB)
            let users = try ShopProcess(["serve", "--service", "users", "--port", "0"], environment: environment(usersDB))
            let products = try ShopProcess(["serve", "--service", "products", "--port", "0"], environment: environment(productsDB))
            let payments = try ShopProcess(["serve", "--service", "payments", "--port", "0"], environment: environment(paymentsDB))
            let notifications = try ShopProcess(
                ["serve", "--service", "notifications", "--port", "0"],
                environment: environment(
                    notificationsDB,
                    ["NOTIFICATIONS_POLL_MS": "100", "NOTIFICATIONS_SECRET": String(repeating: "n", count: 40)]
                )
            )
            let usersURL = "http://127.0.0.1:\(try await users.port())"
            let orders = try ShopProcess(
                ["serve", "--service", "orders", "--port", "0"],
                environment: environment(ordersDB, try await ProcessBackends.ordersUpstreams(users: users, products: products, payments: payments))
            )
            let gateway = try ShopProcess(
                ["serve", "--service", "gateway", "--port", "0"],
                environment: shared.merging([
                    "USERS_URL": usersURL,
                    "PRODUCTS_URL": "http://127.0.0.1:\(try await products.port())",
                    "PAYMENTS_URL": "http://127.0.0.1:\(try await payments.port())",
                    "NOTIFICATIONS_URL": "http://127.0.0.1:\(try await notifications.port())",
                    "ORDERS_URL": "http://127.0.0.1:\(try await orders.port())",
                ]) { $1 }
            )
            let all = [gateway, orders, notifications, payments, products, users]
            let shop = RunningShop(port: try await gateway.port())
            let admin = shop.signedIn(as: try await shop.logIn("root@example.com").access)
            let lamp = try await OrdersEndToEndTests.product(admin, "traced-lamp", price: 4500, stock: 3)
            let guest = shop.anonymous
            // What a hostile client sends as trace context is taken, or not, without a word
            // in any log (the tracer logs what it cannot read).
            for headers in [
                [("traceparent", "00-zz" + String(repeating: "0", count: 50))],
                [("traceparent", String(repeating: "x", count: 4_000))],
                [
                    ("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
                    ("tracestate", "=,,==junk,@@@=" + String(repeating: "v", count: 200)),
                ],
            ] {
                #expect(try await guest.request(.GET, "/api/v1/products", headers: headers).status == 200)
            }
            let token = try #require(try await guest.request(.POST, "/api/v1/carts").json?["data"]?["cart_token"]?.string)
            let line = try await guest.request(.PUT, "/api/v1/cart/lines/\(lamp)", headers: [("X-Cart-Token", token)], json: #"{"quantity":1}"#)
            #expect(line.status == 200)
            let placed = try await guest.request(
                .POST,
                "/api/v1/orders",
                headers: [("X-Cart-Token", token), ("Idempotency-Key", "traced"), ("X-Request-ID", "req_traced.checkout")],
                json: OrdersEndToEndTests.checkout(card: "pm_card_visa", email: "traced@example.com")
            )
            #expect(placed.status == 201, "\(String(decoding: placed.body, as: UTF8.self))")

            // The gateway's span for the checkout is the root of its trace.
            func checkoutRoot(_ spans: [OTLPReceiver.Span]) -> OTLPReceiver.Span? {
                spans.first { $0.service == "shop-gateway" && $0.attributes["shop.request_id"] == "req_traced.checkout" && $0.kind == 2 }
            }
            let spans = try await receiver.wait { spans in
                guard let root = checkoutRoot(spans) else { return false }
                let trace = spans.filter { $0.traceID == root.traceID }
                return Set(trace.map(\.service)).isSuperset(of: ["shop-gateway", "shop-orders", "shop-products", "shop-payments"])
                    && trace.contains { $0.service == "shop-notifications" && $0.name == "order.confirmed process" }
            }
            let root = try #require(checkoutRoot(spans), "services sent \(Set(spans.map(\.service)))")
            let trace = spans.filter { $0.traceID == root.traceID }
            #expect(root.parentSpanID.isEmpty)
            #expect(root.name == "POST /api/v1/orders", "a route's pattern names a span")
            let ids = Set(trace.map(\.spanID))
            #expect(trace.filter { $0.parentSpanID.isEmpty } == [root], "one root")
            for span in trace where span != root {
                #expect(ids.contains(span.parentSpanID), "\(span.service) \(span.name) hangs on a span of the trace")
            }
            #expect(
                Set(trace.map(\.service)).isSuperset(of: ["shop-gateway", "shop-orders", "shop-products", "shop-payments", "shop-notifications"])
            )
            // Orders' server span is a child of the gateway's call to it; the call to
            // Products and to Payments a child of Orders' span.
            let ordersServer = try #require(trace.first { $0.service == "shop-orders" && $0.kind == 2 && $0.name == "POST /api/v1/orders" })
            let proxied = try #require(trace.first { $0.spanID == ordersServer.parentSpanID })
            #expect(proxied.service == "shop-gateway" && proxied.kind == 3)
            for service in ["shop-products", "shop-payments"] {
                let served = try #require(trace.first { $0.service == service && $0.kind == 2 }, "\(service)")
                let call = try #require(trace.first { $0.spanID == served.parentSpanID })
                #expect(call.service == "shop-orders" && call.kind == 3, "\(service) was called by Orders")
            }
            // The receipt: Notifications took `order.confirmed` in a consumer span whose
            // parent wrote the event in Orders.
            let consumed = try #require(trace.first { $0.service == "shop-notifications" && $0.name == "order.confirmed process" })
            #expect(consumed.kind == 5)
            #expect(trace.first { $0.spanID == consumed.parentSpanID }?.service == "shop-orders")

            // Every process logs the trace's id beside the request id.
            let hex = root.traceIDHex
            #expect(hex.count == 32)
            for process in [gateway, orders] {
                let lines = process.log.split(separator: "\n").filter { $0.contains("req_traced.checkout") }
                #expect(lines.contains { $0.contains(#""trace_id":"\#(hex)""#) }, "\(lines)")
            }

            // What a request carried besides its trace context never reaches a log: the
            // tracer is given the trace headers alone, and logs those it cannot read.
            for process in all {
                #expect(!process.log.contains("extract"), "\(process.log)")
                #expect(!process.log.contains(TestServer.internalToken), "\(process.log)")
                #expect(!process.log.contains(token), "the cart's secret")
            }

            for process in all { kill(process.process.processIdentifier, SIGTERM) }
            for process in all { #expect(try await process.waitForExit() == 0, "\(process.log)") }
        }
    }
}
