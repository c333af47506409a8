/// Why one attempt to send did not reach its recipient, and whether trying again can help.
///
/// Every channel (SMTP, SMS, push, webhooks) throws this from a send; the dispatcher
/// retries `transient` ones with backoff, gives up at once on `permanent` ones, and
/// disables a webhook endpoint that answers `gone`.
struct DeliveryFailure: Error, Sendable, Equatable, CustomStringConvertible {
    enum Kind: String, Sendable {
        /// A timeout, a refused or dropped connection, a 4xx SMTP reply, an HTTP 5xx, 408 or 429.
        case transient
        /// The recipient or the request is wrong: a 5xx SMTP reply, an HTTP 4xx other than the above.
        case permanent
        /// The receiver says it will never want this again (HTTP 410).
        case gone
    }

    let kind: Kind
    /// What the other side said, or what went wrong, for the delivery log (no secrets).
    let detail: String

    static func transient(_ detail: String) -> DeliveryFailure { DeliveryFailure(kind: .transient, detail: detail) }
    static func permanent(_ detail: String) -> DeliveryFailure { DeliveryFailure(kind: .permanent, detail: detail) }
    static func gone(_ detail: String) -> DeliveryFailure { DeliveryFailure(kind: .gone, detail: detail) }

    var description: String { "\(kind.rawValue): \(detail)" }
}
