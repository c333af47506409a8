/// One text message on its way to a phone.
struct SMSMessage: Sendable, Hashable {
    /// The notification's id: the provider's idempotency key where it has one, and what the
    /// delivery log names.
    let id: String
    /// The recipient in E.164 (`+4915112345678`).
    let to: String
    let body: String
}

/// Something that takes an ``SMSMessage`` to a phone: a provider's HTTP API in production,
/// the log when none is configured.
protocol SMSTransport: Sendable {
    /// Hands `message` over, or throws ``DeliveryFailure``: `transient` when trying again can
    /// help, `permanent` when it cannot, `gone` when the number asked for no more messages
    /// (it replied STOP), so the user's SMS is turned off.
    ///
    /// - Returns: What the provider answered (its message id and status), for the log.
    func send(_ message: SMSMessage) async throws -> String
}
