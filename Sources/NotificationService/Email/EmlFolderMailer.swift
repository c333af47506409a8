import Foundation

/// The mail transport when no `SMTP_URL` is set: each message becomes a file in
/// `<DATA_DIR>/outbox-mail/`, named `<UTC timestamp>-<Message-ID>.eml`, that any mail
/// program opens.
struct EmlFolderMailer: MailTransport {
    let outbox: OutboxFolder
    /// The folder the files go to: `<DATA_DIR>/outbox-mail`.
    var folder: URL { outbox.folder }

    init(dataDirectory: URL) {
        outbox = OutboxFolder(dataDirectory: dataDirectory, name: "outbox-mail")
    }

    func send(_ message: MailMessage) async throws -> String {
        "saved " + (try outbox.write(message.rendered(), id: message.messageID, extension: "eml"))
    }
}
