/// One push notification on its way to one device.
struct PushMessage: Sendable, Hashable {
    /// The notification's id, for the delivery log and the app (as `data.notification_id`).
    let id: String
    /// The registration token the app got from its push service.
    let deviceToken: String
    let title: String
    let body: String
    /// Small string pairs the app can act on (`kind`, `order_id`): never personal data.
    let data: [String: String]
}

/// Something that takes a ``PushMessage`` to a device: a push service's HTTP API in
/// production, the log when none is configured.
protocol PushTransport: Sendable {
    /// Hands `message` over, or throws ``DeliveryFailure``: `transient` when trying again can
    /// help, `permanent` when it cannot, `gone` when the token is no longer registered, so
    /// the device is forgotten.
    ///
    /// - Returns: What the service answered (its message name), for the log.
    func send(_ message: PushMessage) async throws -> String
}
