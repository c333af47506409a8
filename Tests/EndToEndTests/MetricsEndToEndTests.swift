import Foundation
import Testing

/// `/metrics` over real HTTP: requests, the guard and the event path are counted.
@Suite struct MetricsEndToEndTests {
    private func metrics(_ shop: RunningShop) async throws -> String {
        String(decoding: try await shop.internalListener.request(.GET, "/metrics").body, as: UTF8.self)
    }

    @Test func requestsLimitsAndEventsShowUpInTheExposition() async throws {
        try await TestServer.with(environment: ["RATE_LIMIT_CREDENTIALS": "3/60"]) { admin in
            let id = try await admin.createUser("ada@example.com")
            _ = try await admin.request(.GET, "/api/v1/users/\(id)")
            _ = try await admin.request(.GET, "/api/v1/users/me")
            // Free-form path parts (slugs, image names) must not make a series each.
            _ = try await admin.anonymous.request(.GET, "/api/v1/products/by-slug/no-such-thing")
            _ = try await admin.anonymous.request(.GET, "/images/" + String(repeating: "a", count: 64) + ".png")
            for _ in 0..<2 {
                _ = try await admin.anonymous.request(.POST, "/api/v1/auth/token", json: #"{"email":"x@example.com","password":"whatever-it-is"}"#)
            }
            var text = ""
            for _ in 0..<250 {
                text = try await metrics(admin)
                if text.contains(#"shop_event_deliveries_total{consumer="users.audit",outcome="handled"} 2"#) { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(text.contains(#"shop_http_requests_total{method="GET",route="/api/v1/users/{id}",status="200"} 2"#), "\(text)")
            #expect(text.contains(#"shop_http_requests_total{method="POST",route="/api/v1/auth/token",status="429"} 1"#))
            #expect(text.contains("shop_rate_limited_total 1"))
            #expect(text.contains(#"shop_http_request_duration_seconds_bucket{method="GET",route="/api/v1/users/{id}",le="+Inf"} 2"#))
            // The alert rules' p95 threshold, 200 ms, is a bucket bound of its own.
            #expect(text.contains(#"shop_http_request_duration_seconds_bucket{method="GET",route="/api/v1/users/{id}",le="0.2"} "#))
            #expect(text.contains(#"shop_event_deliveries_total{consumer="users.audit",outcome="handled"} 2"#), "the admin and Ada registered")
            #expect(text.contains("shop_outbox_relayed_total 2"))
            #expect(text.contains(#"shop_http_requests_total{method="GET",route="/api/v1/products/by-slug/{slug}",status="404"} 1"#), "\(text)")
            #expect(text.contains(#"shop_http_requests_total{method="GET",route="/images/{name}",status="404"} 1"#))
            #expect(!text.contains("no-such-thing") && !text.contains("aaaaaaaa"))
            #expect(!text.contains("ada@example.com"))
        }
    }
}
