public import Foundation

/// Blobs as files under a folder (`./data/blobs` on the embedded default).
///
/// Writes go to a temporary file that is renamed into place, so a reader never sees a
/// half-written object, even after a crash.
public struct LocalFolderStorage: ObjectStorage {
    public let root: URL

    public init(root: URL) throws {
        self.root = root
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    public func put(_ data: Data, key: String, contentType: String) async throws {
        let file = try url(for: key)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        let temporary = file.deletingLastPathComponent().appendingPathComponent(".\(UUID().uuidString).partial")
        try data.write(to: temporary, options: .atomic)
        if rename(temporary.path, file.path) != 0 {
            let code = errno
            try? FileManager.default.removeItem(at: temporary)
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: file.path, "errno": code])
        }
    }

    public func get(key: String) async throws -> Data? {
        let file = try url(for: key)
        guard FileManager.default.fileExists(atPath: file.path) else { return nil }
        return try Data(contentsOf: file)
    }

    public func delete(key: String) async throws {
        let file = try url(for: key)
        if FileManager.default.fileExists(atPath: file.path) {
            try FileManager.default.removeItem(at: file)
        }
    }

    private func url(for key: String) throws(ObjectStorageError) -> URL {
        try ObjectKey.validate(key)
        return root.appendingPathComponent(key)
    }
}
