import AsyncHTTPClient
import Foundation
import TestSupport
import Testing

@testable import ObjectStorage

/// Both stores with one behaviour: the local folder, and S3 against a real
/// S3-compatible server (moto) that checks signatures.
@Suite(.serialized) struct ObjectStorageTests {
    enum Kind: String, CaseIterable, CustomTestStringConvertible {
        case folder, s3
        var testDescription: String { rawValue }
    }

    static var kinds: [Kind] {
        MotoServer.available ? Kind.allCases : Backends.skipping("moto_server", in: "the S3 cases of \(#fileID)", [.folder])
    }

    private func withStorage(_ kind: Kind, _ body: (any ObjectStorage) async throws -> Void) async throws {
        switch kind {
        case .folder:
            let root = FileManager.default.temporaryDirectory.appendingPathComponent("blobs-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: root) }
            try await body(try LocalFolderStorage(root: root))
        case .s3:
            let moto = try await MotoServer.start()
            defer { moto.stop() }
            let storage = S3Storage(moto.configuration(bucket: "shop-images", pathStyle: true))
            try await storage.createBucket()
            try await body(storage)
        }
    }

    @Test(arguments: kinds)
    func anObjectIsStoredReadReplacedAndDeleted(_ kind: Kind) async throws {
        try await withStorage(kind) { storage in
            let bytes = Data((0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
            try await storage.put(bytes, key: "products/1/ab12.png", contentType: "image/png")
            #expect(try await storage.get(key: "products/1/ab12.png") == bytes)
            try await storage.put(Data("v2".utf8), key: "products/1/ab12.png", contentType: "image/png")
            #expect(try await storage.get(key: "products/1/ab12.png") == Data("v2".utf8))
            #expect(try await storage.get(key: "products/1/missing.png") == nil)
            try await storage.delete(key: "products/1/ab12.png")
            #expect(try await storage.get(key: "products/1/ab12.png") == nil)
            try await storage.delete(key: "products/1/ab12.png")
        }
    }

    @Test(arguments: kinds)
    func keysOutsideTheSafeAlphabetAreRefused(_ kind: Kind) async throws {
        try await withStorage(kind) { storage in
            for key in ["", "../etc/passwd", "a/../b", "/abs", "a//b", "spaces here", "ünï", String(repeating: "k", count: 513)] {
                await #expect(throws: ObjectStorageError.invalidKey(key)) {
                    try await storage.put(Data("x".utf8), key: key, contentType: "text/plain")
                }
            }
        }
    }

    @Test(.enabled(if: MotoServer.available))
    func aWrongSecretIsRefusedByTheServer() async throws {
        let moto = try await MotoServer.start()
        defer { moto.stop() }
        let good = S3Storage(moto.configuration(bucket: "shop-images", pathStyle: true))
        try await good.createBucket()
        var wrong = moto.configuration(bucket: "shop-images", pathStyle: true)
        wrong.secretKey = "not-the-secret"
        await #expect(throws: ObjectStorageError.self) {
            try await S3Storage(wrong).put(Data("x".utf8), key: "k", contentType: "text/plain")
        }
        #expect(try await good.get(key: "k") == nil, "the refused write stored nothing")
    }
}
