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
    /// The folder's path, which each file's is made from by hand: `URL` looks at the disk
    /// to learn whether a component it appends is a folder.
    private let path: String

    init(dataDirectory: URL, name: String) {
        folder = dataDirectory.appendingPathComponent(name, isDirectory: true)
        path = folder.path
    }

    /// Writes `contents`; returns the file's name, or throws a transient ``DeliveryFailure``.
    ///
    /// Written with plain system calls and not flushed to the disk: the folder is what a
    /// developer reads, not a delivery anyone waits on, and a flush per message was a
    /// quarter of the embedded default's `fsync` calls under checkout load. A killed
    /// process loses no file it wrote; a machine that loses power may.
    func write(_ contents: String, id: String, extension fileExtension: String) throws -> String {
        let name = "\(Self.timestamp(Date()))-\(Self.sanitized(id)).\(fileExtension)"
        let destination = path + "/" + name
        // The leading dot keeps the partial file out of a glob for *.eml.
        var generator = SystemRandomNumberGenerator()
        let temporary = path + "/." + name + "." + String(generator.next() as UInt64, radix: 16) + ".tmp"
        do {
            do {
                try Self.create(temporary, contents)
            } catch let error as POSIXError where error.code == .ENOENT {
                // The folder is made when the first message needs it (and again if removed).
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                try Self.create(temporary, contents)
            }
            // rename(2) replaces in one step; FileManager.moveItem refuses an existing file.
            guard rename(temporary, destination) == 0 else {
                throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
            }
        } catch {
            unlink(temporary)
            throw DeliveryFailure.transient("cannot write \(destination): \(error)")
        }
        return name
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
    static func timestamp(_ date: Date) -> String {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        var seconds = time_t(milliseconds / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var bytes = [UInt8](repeating: UInt8(ascii: "0"), count: 20)
        func put(_ value: Int64, _ width: Int, at offset: Int) {
            var value = value
            for index in stride(from: offset + width - 1, through: offset, by: -1) {
                bytes[index] = UInt8(ascii: "0") + UInt8(value % 10)
                value /= 10
            }
        }
        put(Int64(parts.tm_year) + 1900, 4, at: 0)
        put(Int64(parts.tm_mon) + 1, 2, at: 4)
        put(Int64(parts.tm_mday), 2, at: 6)
        bytes[8] = UInt8(ascii: "T")
        put(Int64(parts.tm_hour), 2, at: 9)
        put(Int64(parts.tm_min), 2, at: 11)
        put(Int64(parts.tm_sec), 2, at: 13)
        bytes[15] = UInt8(ascii: ".")
        put(milliseconds % 1000, 3, at: 16)
        bytes[19] = UInt8(ascii: "Z")
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The id with anything a file system or a shell could trip on replaced by "_", at most
    /// 100 characters.
    static func sanitized(_ id: String) -> String {
        let cleaned = id.unicodeScalars.prefix(100).map { scalar -> UInt8 in
            guard scalar.isASCII, allowed[Int(scalar.value)] else { return UInt8(ascii: "_") }
            return UInt8(scalar.value)
        }
        return String(decoding: cleaned, as: UTF8.self)
    }

    /// Which ASCII characters a name keeps, by code.
    private static let allowed: [Bool] = {
        var table = [Bool](repeating: false, count: 128)
        for byte in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_@+".utf8 { table[Int(byte)] = true }
        return table
    }()
}
