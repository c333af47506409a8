import Logging

/// The push transport when no push service is configured: each notification is written to
/// the log (the device token cut to its end), where a developer sees what would be shown.
struct PushLogTransport: PushTransport {
    let logger: Logger

    func send(_ message: PushMessage) async throws -> String {
        logger.notice(
            "push not sent: no push service is configured",
            metadata: [
                "notification": "\(message.id)", "device": "…\(message.deviceToken.suffix(6))",
                "title": "\(message.title)", "body": "\(message.body)",
            ]
        )
        return "logged"
    }
}
