import Foundation
import Testing

@testable import Platform

/// All-in-one runs a relay per service in one process: each outbox has its own series.
@Suite struct OutboxMetricsTests {
    @Test func eachOutboxKeepsItsOwnBacklogAndLag() {
        let metrics = ShopMetrics()
        metrics.recordOutbox("orders", backlog: 3, lagSeconds: 12)
        metrics.recordOutbox("payments", backlog: 0, lagSeconds: 0)
        metrics.recordOutbox("orders", backlog: 1, lagSeconds: 2)
        let text = String(decoding: metrics.exposition(), as: UTF8.self)
        #expect(text.contains(#"shop_outbox_backlog{outbox="orders"} 1"#))
        #expect(text.contains(#"shop_outbox_lag_seconds{outbox="orders"} 2"#))
        #expect(text.contains(#"shop_outbox_backlog{outbox="payments"} 0"#))
        #expect(text.contains(#"shop_outbox_lag_seconds{outbox="payments"} 0"#))
    }
}
