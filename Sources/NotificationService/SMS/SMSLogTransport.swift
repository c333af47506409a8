import Foundation
import Logging

/// The SMS transport when no provider is configured: a line in the log for each message
/// (the number masked, the text left out: it may hold a verification code) and the message
/// itself in `<DATA_DIR>/outbox-sms/<timestamp>-<id>.txt`, where a developer reads it.
struct SMSLogTransport: SMSTransport {
    let outbox: OutboxFolder
    let logger: Logger

    init(dataDirectory: URL, logger: Logger) {
        outbox = OutboxFolder(dataDirectory: dataDirectory, name: "outbox-sms")
        self.logger = logger
    }

    func send(_ message: SMSMessage) async throws -> String {
        let file = try outbox.write("To: \(message.to)\n\n\(message.body)\n", id: message.id, extension: "txt")
        logger.notice(
            "SMS not sent: no provider is configured",
            metadata: ["notification": "\(message.id)", "to": "\(PhoneNumber.mask(message.to))", "file": "\(file)"]
        )
        return "logged, saved \(file)"
    }
}
