/// One webhook message for one endpoint, as every attempt sends it.
struct WebhookDelivery: Sendable, Equatable, CustomStringConvertible {
    /// The message id (`ntf_...`), sent as `webhook-id`: the same on every retry, so the
    /// receiver can drop a message it has already handled.
    var id: String
    /// The endpoint's URL, checked by ``WebhookAddressPolicy`` again at every attempt.
    var url: String
    /// The event it reports (`order.confirmed`...), which the JSON body carries as `type`.
    var eventType: String
    /// The JSON payload, sent byte for byte as it was signed.
    var body: [UInt8]
    /// The endpoint's `whsec_` secret: never logged, never part of a detail.
    var secret: String

    var description: String { "WebhookDelivery(\(id), \(eventType) to \(url), \(body.count) bytes)" }
}
