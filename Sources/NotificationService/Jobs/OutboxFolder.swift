import Foundation

/// A folder that messages are written to when no provider is configured, one file each,
/// named `<UTC timestamp>-<id>.<extension>` so they sort in the order they were written:
/// `outbox-mail` (`.eml`, which any mail program opens) and `outbox-sms` (`.txt`).
///
/// A file appears complete or not at all (written aside, then renamed into place), so a
/// developer or a test that watches the folder never reads half a message.
struct OutboxFolder: Sendable {
    let folder: URL

    init(dataDirectory: URL, name: String) {
        folder = dataDirectory.appendingPathComponent(name, isDirectory: true)
    }

    /// Writes `contents`; returns the file's name, or throws a transient ``DeliveryFailure``.
    func write(_ contents: String, id: String, extension fileExtension: String) throws -> String {
        let name = "\(Self.timestamp(Date()))-\(Self.sanitized(id)).\(fileExtension)"
        let destination = folder.appendingPathComponent(name)
        // The leading dot keeps the partial file out of a glob for *.eml.
        let temporary = folder.appendingPathComponent(".\(name).\(UUID().uuidString).tmp")
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try Data(contents.utf8).write(to: temporary)
            // rename(2) replaces in one step; FileManager.moveItem refuses an existing file.
            guard rename(temporary.path, destination.path) == 0 else {
                throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
            }
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw DeliveryFailure.transient("cannot write \(destination.path): \(error)")
        }
        return destination.lastPathComponent
    }

    /// Deletes the files in `folder` last changed before `date`.
    static func purge(_ folder: URL, before date: Date) {
        let files = (try? FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: [.contentModificationDateKey])) ?? []
        for file in files {
            guard let changed = try? file.resourceValues(forKeys: [.contentModificationDateKey]).contentModificationDate, changed < date
            else { continue }
            try? FileManager.default.removeItem(at: file)
        }
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

    /// The id with anything a file system or a shell could trip on replaced by "_".
    private static func sanitized(_ id: String) -> String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_@+".unicodeScalars)
        let cleaned = String(String.UnicodeScalarView(id.unicodeScalars.map { allowed.contains($0) ? $0 : "_" }))
        return String(cleaned.prefix(100))
    }
}
