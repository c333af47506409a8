public import Foundation

/// A place for immutable blobs (product images), addressed by key.
///
/// Two implementations with one behaviour: ``LocalFolderStorage`` (the embedded
/// default) and ``S3Storage`` (any S3-compatible service).
public protocol ObjectStorage: Sendable {
    /// Stores `data` under `key`, replacing what was there.
    func put(_ data: Data, key: String, contentType: String) async throws
    /// The bytes under `key`, or `nil` when there are none.
    func get(key: String) async throws -> Data?
    /// Removes `key`; removing a missing key is not an error.
    func delete(key: String) async throws
}

/// Why a storage call failed.
public enum ObjectStorageError: Error, Sendable, Hashable {
    /// A key must be 1 to 512 characters of `[A-Za-z0-9._/-]`, without `..` segments.
    case invalidKey(String)
    /// The service answered with an error status.
    case service(status: Int, body: String)
    /// The service could not be reached or timed out; a retry may work.
    case unavailable(String)
}

enum ObjectKey {
    /// Keys stay in a safe alphabet, so a key is always a valid path and URL segment.
    static func validate(_ key: String) throws(ObjectStorageError) {
        let allowed = key.utf8.allSatisfy { byte in
            (48...57).contains(byte) || (65...90).contains(byte) || (97...122).contains(byte)
                || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "/")
        }
        let segments = key.split(separator: "/", omittingEmptySubsequences: false)
        guard (1...512).contains(key.utf8.count), allowed, !key.hasPrefix("/"),
            segments.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." })
        else { throw .invalidKey(key) }
    }
}
