/// Something that takes a ``MailMessage`` on its way to its recipient: an SMTP relay in
/// production, a folder of `.eml` files when the service runs on its own.
protocol MailTransport: Sendable {
    /// Hands `message` over, or throws ``DeliveryFailure`` saying whether trying again can help.
    ///
    /// - Returns: What the other side answered (`250 2.0.0 Ok: queued as 12345`, or where the
    ///   file went), for the delivery log.
    func send(_ message: MailMessage) async throws -> String
}
