import Foundation
import Platform
import SQLKit
import Synchronization
import TestSupport
import Testing

@testable import ProductService

/// Image rows and their objects on SQLite and PostgreSQL, under concurrency.
@Suite struct ImageStoreTests {
    static let t0 = Date(microsecondsSince1970: 1_764_065_700_000_000)
    static let info = ImageInfo(format: .png, width: 2, height: 3)

    /// Object keys as a bucket would hold them.
    final class Bucket: Sendable {
        let keys = Mutex<Set<String>>([])
        func put(_ key: String) { keys.withLock { _ = $0.insert(key) } }
        func delete(_ key: String) { keys.withLock { _ = $0.remove(key) } }
        var contents: Set<String> { keys.withLock { $0 } }
    }

    private func withImages(_ kind: DatabaseKind, _ body: @Sendable (InventoryStore, ImageStore) async throws -> Void) async throws {
        try await TestDatabases.with(kind) { (database: any Database) async throws in
            try await Migrator(ProductService.migrations, logger: TestDatabases.logger).migrate(database)
            try await body(InventoryStore(database: database), ImageStore(database: database))
        }
    }

    private func product(_ store: InventoryStore, _ sku: String) async throws -> Int64 {
        try await CatalogStore(database: store.database).create(
            NewProduct(sku: try SKU(sku), name: sku, price: try Money(amount: 1, currency: "EUR")),
            at: Self.t0
        ).id
    }

    @Test(arguments: TestDatabases.kinds())
    func concurrentUploadsStopAtTheLimitAndAnObjectLivesWhileARowNamesIt(_ kind: DatabaseKind) async throws {
        try await withImages(kind) { store, images in
            let bucket = Bucket()
            let crowded = try await product(store, "CROWDED")
            // 30 different images at once: exactly 20 fit.
            let added = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<30 {
                    group.addTask {
                        let key = "images/\(String(repeating: "0", count: 62))\(String(format: "%02d", index)).png"
                        do {
                            _ = try await images.add(productID: crowded, objectKey: key, info: Self.info, sizeBytes: 10, at: Self.t0) {
                                bucket.put(key)
                            }
                            return true
                        } catch ImageError.tooMany {
                            return false
                        }
                    }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(added == ProductImage.maxPerProduct)
            #expect(try await images.images(of: [crowded])[crowded]?.count == ProductImage.maxPerProduct)

            // One product removes the only row naming an object while another uploads the
            // same bytes, many times over: whenever a row names the object, it exists.
            let first = try await product(store, "FIRST")
            let second = try await product(store, "SECOND")
            let key = "images/" + String(repeating: "ab", count: 32) + ".png"
            for _ in 0..<20 {
                let (image, _) = try await images.add(productID: first, objectKey: key, info: Self.info, sizeBytes: 10, at: Self.t0) {
                    bucket.put(key)
                }
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        _ = try await images.remove(productID: first, imageID: image.id, at: Self.t0) { bucket.delete($0) }
                    }
                    group.addTask {
                        _ = try await images.add(productID: second, objectKey: key, info: Self.info, sizeBytes: 10, at: Self.t0) {
                            bucket.put(key)
                        }
                    }
                    try await group.waitForAll()
                }
                #expect(try await images.images(of: [second])[second]?.count == 1)
                #expect(bucket.contents.contains(key), "the second product's row names bytes that exist")
                let shown = try #require(try await images.images(of: [second])[second]?.first)
                _ = try await images.remove(productID: second, imageID: shown.id, at: Self.t0) { bucket.delete($0) }
                #expect(!bucket.contents.contains(key), "the last reference took the object")
            }
        }
    }
}
