import Foundation

/// The mail transport when no `SMTP_URL` is set: each message becomes a file in
/// `<DATA_DIR>/outbox-mail/`, named `<UTC timestamp>-<Message-ID>.eml`, that any mail
/// program opens.
///
/// A file appears complete or not at all (written aside, then renamed into place), so a
/// developer or a test that watches the folder never reads half a message.
struct EmlFolderMailer: MailTransport {
    /// The folder the files go to: `<DATA_DIR>/outbox-mail`.
    let folder: URL

    init(dataDirectory: URL) {
        folder = dataDirectory.appendingPathComponent("outbox-mail", isDirectory: true)
    }

    func send(_ message: MailMessage) async throws -> String {
        let name = "\(Self.timestamp(Date()))-\(Self.sanitized(message.messageID)).eml"
        let destination = folder.appendingPathComponent(name)
        // The leading dot keeps the partial file out of a glob for *.eml.
        let temporary = folder.appendingPathComponent(".\(name).\(UUID().uuidString).tmp")
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try Data(message.rendered().utf8).write(to: temporary)
            // rename(2) replaces in one step; FileManager.moveItem refuses an existing file.
            guard rename(temporary.path, destination.path) == 0 else {
                throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
            }
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw DeliveryFailure.transient("cannot write \(destination.path): \(error)")
        }
        return "saved \(destination.lastPathComponent)"
    }

    /// `20261206T101500.123Z`: sorts in the order the files were written.
    private static func timestamp(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .nanosecond], from: date)
        return String(
            format: "%04d%02d%02dT%02d%02d%02d.%03dZ",
            parts.year ?? 0,
            parts.month ?? 0,
            parts.day ?? 0,
            parts.hour ?? 0,
            parts.minute ?? 0,
            parts.second ?? 0,
            (parts.nanosecond ?? 0) / 1_000_000
        )
    }

    /// The Message-ID with anything a file system or a shell could trip on replaced by "_".
    private static func sanitized(_ messageID: String) -> String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_@+".unicodeScalars)
        let cleaned = String(String.UnicodeScalarView(messageID.unicodeScalars.map { allowed.contains($0) ? $0 : "_" }))
        return String(cleaned.prefix(100))
    }
}
