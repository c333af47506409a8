import Foundation
import Platform

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
    ///
    /// Written with plain system calls and not flushed to the disk: the folder is what a
    /// developer reads, not a delivery anyone waits on, and a flush per message was a
    /// quarter of the embedded default's `fsync` calls under checkout load. A killed
    /// process loses no file it wrote; a machine that loses power may.
    func write(_ contents: String, id: String, extension fileExtension: String) throws -> String {
        let name = "\(Self.timestamp(Date()))-\(Self.sanitized(id)).\(fileExtension)"
        let destination = folder.appendingPathComponent(name)
        // The leading dot keeps the partial file out of a glob for *.eml.
        let temporary = folder.appendingPathComponent(".\(name).\(UUID.random().uuidString).tmp")
        do {
            do {
                try Self.create(temporary.path, contents)
            } catch let error as POSIXError where error.code == .ENOENT {
                // The folder is made when the first message needs it (and again if removed).
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                try Self.create(temporary.path, contents)
            }
            // rename(2) replaces in one step; FileManager.moveItem refuses an existing file.
            guard rename(temporary.path, destination.path) == 0 else {
                throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
            }
        } catch {
            unlink(temporary.path)
            throw DeliveryFailure.transient("cannot write \(destination.path): \(error)")
        }
        return destination.lastPathComponent
    }

    /// Creates the file at `path` (which must not exist) holding `contents`.
    private static func create(_ path: String, _ contents: String) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(descriptor) }
        var contents = contents
        try contents.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = Foundation.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
                }
                offset += written
            }
        }
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
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        var seconds = time_t(milliseconds / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(
            format: "%04d%02d%02dT%02d%02d%02d.%03dZ",
            Int(parts.tm_year) + 1900,
            Int(parts.tm_mon) + 1,
            Int(parts.tm_mday),
            Int(parts.tm_hour),
            Int(parts.tm_min),
            Int(parts.tm_sec),
            Int(milliseconds % 1000)
        )
    }

    /// The id with anything a file system or a shell could trip on replaced by "_".
    private static func sanitized(_ id: String) -> String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_@+".unicodeScalars)
        let cleaned = String(String.UnicodeScalarView(id.unicodeScalars.map { allowed.contains($0) ? $0 : "_" }))
        return String(cleaned.prefix(100))
    }
}
