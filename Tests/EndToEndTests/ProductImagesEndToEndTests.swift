import Foundation
import ObjectStorage
import Platform
import TestSupport
import Testing

/// Product images over real HTTP: uploaded by staff, recognised by their bytes, stored by
/// content, served with a year's caching, removed with the product's last reference.
@Suite struct ProductImagesEndToEndTests {
    /// A real 2×3 PNG.
    static let png = Data(base64Encoded: "iVBORw0KGgoAAAANSUhEUgAAAAIAAAADCAIAAAA2iEnWAAAAEElEQVR4nGP4z8AARAwoFABE0AX7pM/egAAAAABJRU5ErkJggg==")!

    private func blobs(_ shop: RunningShop) throws -> [String] {
        let folder = URL(fileURLWithPath: try #require(shop.dataDirectory)).appendingPathComponent("blobs/images")
        return ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).sorted()
    }

    @Test func staffUploadAnImageEveryoneFetchesItForgeriesStoreNothing() async throws {
        try await TestServer.with(environment: ["IMAGE_MAX_BYTES": "4096"]) { admin in
            let created = try await admin.request(
                .POST,
                "/api/v1/products",
                json: #"{"sku":"lamp-1","name":"Desk lamp","price":{"amount":4900,"currency":"EUR"},"status":"active"}"#
            )
            let id = try #require(created.json?["data"]?["id"]?.integer)
            let etag = try #require(created.header("ETag"))
            let images = "/api/v1/products/\(id)/images"

            // The client's content type is not believed: the bytes are.
            let forged = try await admin.request(.POST, images, headers: [("Content-Type", "image/png")], body: Data("<?php echo 1; ?>".utf8))
            #expect(forged.status == 422)
            #expect(forged.json?["error"]?["code"]?.string == "VALIDATION_ERROR")
            #expect(forged.json?["error"]?["field"]?.string == "image")
            let signatureOnly = try await admin.request(.POST, images, body: Self.png.prefix(8))
            #expect(signatureOnly.status == 422, "the right magic bytes are not enough")
            let oversize = try await admin.request(.POST, images, body: Self.png + Data(count: 5000))
            #expect(oversize.status == 413)
            #expect(oversize.json?["error"]?["code"]?.string == "PAYLOAD_TOO_LARGE")
            #expect(try await admin.request(.POST, images, body: Data()).status == 422)
            #expect(try blobs(admin).isEmpty, "nothing was stored")
            #expect(try await admin.request(.GET, "/api/v1/products/\(id)").json?["data"]?["images"]?.array?.isEmpty == true)

            let customer = try await admin.customer("buyer@example.com").shop
            #expect(try await customer.request(.POST, images, body: Self.png).status == 403)
            #expect(try await admin.anonymous.request(.POST, images, body: Self.png).status == 401)
            #expect(try await admin.request(.POST, "/api/v1/products/424242/images", body: Self.png).status == 404)

            let uploaded = try await admin.request(.POST, images, headers: [("Content-Type", "application/octet-stream")], body: Self.png)
            #expect(uploaded.status == 201)
            let image = try #require(uploaded.json?["data"])
            #expect(image["content_type"]?.string == "image/png")
            #expect(image["width"]?.integer == 2 && image["height"]?.integer == 3)
            #expect(image["size_bytes"]?.integer == Int64(Self.png.count))
            let url = try #require(image["url"]?.string)
            #expect(url.hasPrefix("/images/") && url.hasSuffix(".png"))
            #expect(try blobs(admin).count == 1)
            let again = try await admin.request(.POST, images, body: Self.png)
            #expect(again.status == 200, "the same bytes again are the same image")
            #expect(again.json?["data"]?["id"] == image["id"])

            // The product shows it, and its version moved on.
            let product = try await customer.request(.GET, "/api/v1/products/\(id)")
            #expect(product.json?["data"]?["images"]?.array?.compactMap { $0["url"]?.string } == [url])
            #expect(product.header("ETag") != etag)
            let listed = try await customer.request(.GET, "/api/v1/products")
            #expect(listed.json?["data"]?.array?.first?["images"]?.array?.count == 1)

            let fetched = try await admin.anonymous.request(.GET, url)
            #expect(fetched.status == 200)
            #expect(fetched.body == Self.png)
            #expect(fetched.header("Content-Type") == "image/png")
            #expect(fetched.header("Cache-Control") == "public, max-age=31536000, immutable")
            #expect(fetched.header("X-Content-Type-Options") == "nosniff")
            let revalidated = try await admin.anonymous.request(.GET, url, headers: [("If-None-Match", try #require(fetched.header("ETag")))])
            #expect(revalidated.status == 304)
            #expect(try await admin.anonymous.request(.GET, "/images/" + String(repeating: "0", count: 64) + ".png").status == 404)
            #expect(try await admin.anonymous.request(.GET, "/images/..%2Fusers.sqlite").status == 404)

            // Another product showing the same bytes keeps the object alive.
            let other = try await admin.request(
                .POST,
                "/api/v1/products",
                json: #"{"sku":"lamp-2","name":"Floor lamp","price":{"amount":9900,"currency":"EUR"}}"#
            )
            let otherID = try #require(other.json?["data"]?["id"]?.integer)
            let shared = try await admin.request(.POST, "/api/v1/products/\(otherID)/images", body: Self.png)
            #expect(shared.json?["data"]?["url"]?.string == url)
            let imageID = try #require(image["id"]?.integer)
            #expect(try await customer.request(.DELETE, "\(images)/\(imageID)").status == 403)
            #expect(try await admin.request(.DELETE, "\(images)/\(imageID)").status == 204)
            #expect(try await admin.request(.DELETE, "\(images)/\(imageID)").status == 404)
            #expect(try await admin.anonymous.request(.GET, url).status == 200, "still shown by the other product")
            let sharedID = try #require(shared.json?["data"]?["id"]?.integer)
            #expect(try await admin.request(.DELETE, "/api/v1/products/\(otherID)/images/\(sharedID)").status == 204)
            #expect(try blobs(admin).isEmpty, "the last reference took the object with it")
            #expect(try await admin.anonymous.request(.GET, url).status == 404)
            #expect(try await customer.request(.GET, "/api/v1/products/\(id)").json?["data"]?["images"]?.array?.isEmpty == true)
        }
    }

    @Test func aRetriedUploadWithAnIdempotencyKeyIsAnsweredNotRepeated() async throws {
        try await TestServer.with { admin in
            let created = try await admin.request(
                .POST,
                "/api/v1/products",
                json: #"{"sku":"rug-1","name":"Rug","price":{"amount":100,"currency":"EUR"}}"#
            )
            let id = try #require(created.json?["data"]?["id"]?.integer)
            let key = [("Idempotency-Key", "upload-rug-1")]
            let first = try await admin.request(.POST, "/api/v1/products/\(id)/images", headers: key, body: Self.png)
            let retry = try await admin.request(.POST, "/api/v1/products/\(id)/images", headers: key, body: Self.png)
            #expect(first.status == 201 && retry.status == 201)
            #expect(retry.header("Idempotent-Replayed") == "true")
            #expect(retry.body == first.body)
            let other = try await admin.request(.POST, "/api/v1/products/\(id)/images", headers: key, body: Self.png + Data([0]))
            #expect(other.status == 409, "the same key with other bytes")
        }
    }
}

/// Object storage that does not answer: the upload is refused with 503 and writes no
/// row; serving an image says the same.
@Suite struct ProductImagesWithStorageDownEndToEndTests {
    @Test func anUnreachableBucketIsUpstreamUnavailableAndNothingIsRecorded() async throws {
        let environment = [
            "S3_ENDPOINT": "http://127.0.0.1:1", "S3_BUCKET": "gone", "S3_ACCESS_KEY_ID": "AKIDEXAMPLE",
            "S3_SECRET_ACCESS_KEY": "not-a-real-secret-0123456789", "S3_TIMEOUT_SECONDS": "1",
        ]
        try await TestServer.with(environment: environment) { admin in
            let created = try await admin.request(
                .POST,
                "/api/v1/products",
                json: #"{"sku":"bowl-1","name":"Bowl","price":{"amount":900,"currency":"EUR"},"status":"active"}"#
            )
            let id = try #require(created.json?["data"]?["id"]?.integer)
            let etag = try #require(created.header("ETag"))
            let upload = try await admin.request(.POST, "/api/v1/products/\(id)/images", body: ProductImagesEndToEndTests.png)
            #expect(upload.status == 503)
            #expect(upload.json?["error"]?["code"]?.string == "UPSTREAM_UNAVAILABLE")
            #expect(try OpenAPIContractTests.problems(of: upload, method: .POST, path: "/api/v1/products/\(id)/images").isEmpty)
            let product = try await admin.request(.GET, "/api/v1/products/\(id)")
            #expect(product.json?["data"]?["images"]?.array?.isEmpty == true)
            #expect(product.header("ETag") == etag, "the product did not change")
            let served = try await admin.anonymous.request(.GET, "/images/" + String(repeating: "b", count: 64) + ".png")
            #expect(served.status == 503)
            #expect(
                try OpenAPIContractTests.problems(of: served, method: .GET, path: "/images/" + String(repeating: "b", count: 64) + ".png").isEmpty
            )
        }
    }
}

/// The same images on S3 (moto's S3-compatible server, signatures checked), as
/// production configures it with `S3_ENDPOINT`.
@Suite(.enabled(if: MotoServer.available)) struct ProductImagesOnS3EndToEndTests {
    @Test func imagesGoToTheBucketAndAreServedFromIt() async throws {
        let moto = try await MotoServer.start()
        defer { moto.stop() }
        let configuration = moto.configuration(bucket: "shop-images", pathStyle: true)
        let bucket = S3Storage(configuration)
        try await bucket.createBucket()
        let environment = [
            "S3_ENDPOINT": "http://127.0.0.1:\(moto.port)", "S3_BUCKET": "shop-images", "S3_ACCESS_KEY_ID": moto.accessKey,
            "S3_SECRET_ACCESS_KEY": moto.secretKey, "S3_PATH_STYLE": "true",
        ]
        try await TestServer.with(environment: environment) { admin in
            let created = try await admin.request(
                .POST,
                "/api/v1/products",
                json: #"{"sku":"vase-9","name":"Vase","price":{"amount":2500,"currency":"EUR"},"status":"active"}"#
            )
            let id = try #require(created.json?["data"]?["id"]?.integer)
            let uploaded = try await admin.request(.POST, "/api/v1/products/\(id)/images", body: ProductImagesEndToEndTests.png)
            #expect(uploaded.status == 201)
            let url = try #require(uploaded.json?["data"]?["url"]?.string)
            let key = "images/" + url.dropFirst("/images/".count)
            #expect(try await bucket.get(key: key) == ProductImagesEndToEndTests.png, "the bytes are in the bucket")
            let served = try await admin.anonymous.request(.GET, url)
            #expect(served.status == 200 && served.body == ProductImagesEndToEndTests.png)
            let imageID = try #require(uploaded.json?["data"]?["id"]?.integer)
            #expect(try await admin.request(.DELETE, "/api/v1/products/\(id)/images/\(imageID)").status == 204)
            #expect(try await bucket.get(key: key) == nil, "and gone with the image")
        }
    }
}
