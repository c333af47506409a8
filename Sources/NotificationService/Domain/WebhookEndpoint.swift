import Foundation

/// A merchant's system that hears events over HTTP, signed with its own secret.
struct WebhookEndpoint: Sendable, Hashable {
    var sequence: Int64
    /// `we_…`
    var id: String
    var url: String
    var description: String
    var eventTypes: [String]
    /// `whsec_…`: shown once, when the endpoint is made; signs every delivery.
    var secret: String
    var enabled: Bool
    var disabledReason: String?
    /// When the current run of failures began, or `nil` while deliveries succeed.
    var failingSince: Date?
    var createdAt: Date
    var updatedAt: Date

    /// The events an endpoint may subscribe to: what happens to orders, payments and stock.
    /// Users' events stay inside: they are about people, not the business.
    static let eventTypes: [String] = [
        "order.created", "order.confirmed", "order.cancelled", "order.shipped", "order.delivered", "order.refunded",
        "payment.authorized", "payment.canceled", "payment.completed", "payment.failed", "payment.refunded",
        "inventory.low_stock",
    ]

    /// How many endpoints may exist at once: every event is sent to each of them.
    static let maxEndpoints = 50
}
