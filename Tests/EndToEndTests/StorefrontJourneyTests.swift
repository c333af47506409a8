import Foundation
import Testing

/// The acceptance path of the Products issue in one journey over real HTTP: staff build a
/// catalog with an image, a customer browses it the ways a storefront does.
@Suite struct StorefrontJourneyTests {
    @Test func staffBuildACatalogACustomerBrowsesFiltersSearchesAndPagesThroughIt() async throws {
        try await TestServer.with { admin in
            // Staff: a category tree and eight active products, one of them a draft.
            func category(_ slug: String, parent: Int64? = nil) async throws -> Int64 {
                let body = parent.map { #"{"slug":"\#(slug)","name":"\#(slug)","parent_id":\#($0)}"# } ?? #"{"slug":"\#(slug)","name":"\#(slug)"}"#
                return try #require(try await admin.request(.POST, "/api/v1/categories", json: body).json?["data"]?["id"]?.integer)
            }
            let kitchen = try await category("kitchen")
            let cookware = try await category("cookware", parent: kitchen)
            let garden = try await category("garden")
            var ids: [String: Int64] = [:]
            for (index, (sku, name, category)) in [
                ("pan-1", "Cast iron pan", cookware), ("pan-2", "Copper pan", cookware), ("pot-1", "Stock pot", cookware),
                ("mug-1", "Enamel mug", kitchen), ("mug-2", "Stoneware mug", kitchen), ("hose-1", "Garden hose", garden),
                ("rake-1", "Leaf rake", garden), ("can-1", "Watering can", garden),
            ].enumerated() {
                let created = try await admin.request(
                    .POST,
                    "/api/v1/products",
                    json:
                        #"{"sku":"\#(sku)","name":"\#(name)","price":{"amount":\#(1000 + index * 500),"currency":"EUR"},"status":"active","category_id":\#(category),"attributes":{"material":"\#(name.split(separator: " ")[0].lowercased())"}}"#
                )
                #expect(created.status == 201)
                ids[sku] = try #require(created.json?["data"]?["id"]?.integer)
            }
            _ = try await admin.request(
                .POST,
                "/api/v1/products",
                json: #"{"sku":"secret-1","name":"Secret pan","price":{"amount":1,"currency":"EUR"}}"#
            )
            let pan = try #require(ids["pan-1"])
            let uploaded = try await admin.request(.POST, "/api/v1/products/\(pan)/images", body: ProductImagesEndToEndTests.png)
            #expect(uploaded.status == 201)
            let imageURL = try #require(uploaded.json?["data"]?["url"]?.string)
            #expect(try await admin.anonymous.request(.GET, imageURL).body == ProductImagesEndToEndTests.png)
            let forged = try await admin.request(
                .POST,
                "/api/v1/products/\(pan)/images",
                headers: [("Content-Type", "image/jpeg")],
                body: Data(count: 64)
            )
            #expect(forged.status == 422 && forged.json?["error"]?["field"]?.string == "image")

            // A customer browses.
            let customer = try await admin.customer("shopper@example.com").shop
            func skus(_ path: String) async throws -> [String] {
                try await customer.request(.GET, path).json?["data"]?.array?.compactMap { $0["sku"]?.string } ?? []
            }
            #expect(try await skus("/api/v1/products?category_id=\(kitchen)&sort=price") == ["PAN-1", "PAN-2", "POT-1", "MUG-1", "MUG-2"])
            #expect(try await skus("/api/v1/products?category_id=\(garden)&sort=-price") == ["CAN-1", "RAKE-1", "HOSE-1"])
            #expect(try await skus("/api/v1/products?min_price=2000&max_price=3000&sort=price") == ["POT-1", "MUG-1", "MUG-2"])
            #expect(try await skus("/api/v1/products?q=pan&sort=price") == ["PAN-1", "PAN-2"], "the draft is not for customers")
            #expect(try await skus("/api/v1/products?q=mug%20stone") == ["MUG-2"])
            let bySlug = try await customer.request(.GET, "/api/v1/products/by-slug/cast-iron-pan")
            #expect(bySlug.json?["data"]?["images"]?.array?.first?["url"]?.string == imageURL)
            #expect(bySlug.json?["data"]?["attributes"]?["material"]?.string == "cast")

            // Pages of three, by number and by cursor: every active product once, in order.
            let first = try await customer.request(.GET, "/api/v1/products?sort=price&per_page=3&page=1")
            #expect(first.json?["meta"]?["total"]?.integer == 8 && first.json?["meta"]?["total_pages"]?.integer == 3)
            var paged: [String] = []
            for page in 1...3 { paged += try await skus("/api/v1/products?sort=price&per_page=3&page=\(page)") }
            var cursored: [String] = []
            var cursor = ""
            for _ in 0..<5 {
                let page = try await customer.request(.GET, "/api/v1/products?sort=price&per_page=3&cursor=\(cursor)")
                cursored += page.json?["data"]?.array?.compactMap { $0["sku"]?.string } ?? []
                guard let next = page.json?["meta"]?["next_cursor"]?.string else { break }
                cursor = next
            }
            let expected = ["PAN-1", "PAN-2", "POT-1", "MUG-1", "MUG-2", "HOSE-1", "RAKE-1", "CAN-1"]
            #expect(paged == expected)
            #expect(cursored == expected)

            // Caching and concurrency control.
            let read = try await customer.request(.GET, "/api/v1/products/\(pan)")
            let etag = try #require(read.header("ETag"))
            #expect(try await customer.request(.GET, "/api/v1/products/\(pan)", headers: [("If-None-Match", etag)]).status == 304)
            #expect(
                try await admin.request(.PATCH, "/api/v1/products/\(pan)", headers: [("If-Match", etag)], json: #"{"name":"Cast iron skillet"}"#)
                    .status == 200
            )
            let stale = try await admin.request(.PATCH, "/api/v1/products/\(pan)", headers: [("If-Match", etag)], json: #"{"name":"Lost"}"#)
            #expect(stale.status == 409 && stale.json?["error"]?["code"]?.string == "CONFLICT")
            #expect(try await customer.request(.GET, "/api/v1/products/\(pan)", headers: [("If-None-Match", etag)]).status == 200)
            #expect(try await skus("/api/v1/products?q=skillet") == ["PAN-1"], "the rename is the next search")

            // Lists and categories revalidate by the bytes of the answer: live stock included.
            let list = try await customer.request(.GET, "/api/v1/products?sort=price")
            let listTag = try #require(list.header("ETag"))
            #expect(try await customer.request(.GET, "/api/v1/products?sort=price", headers: [("If-None-Match", listTag)]).status == 304)
            _ = try await admin.request(.POST, "/api/v1/products/\(pan)/inventory/adjustments", json: #"{"change":5,"reason":"delivery"}"#)
            let restocked = try await customer.request(.GET, "/api/v1/products?sort=price", headers: [("If-None-Match", listTag)])
            #expect(restocked.status == 200, "a stock change is a new answer")
            #expect(restocked.json?["data"]?.array?.first?["available"]?.integer == 5)
            let tree = try await customer.request(.GET, "/api/v1/categories/\(kitchen)")
            #expect(
                try await customer.request(.GET, "/api/v1/categories/\(kitchen)", headers: [("If-None-Match", try #require(tree.header("ETag")))])
                    .status == 304
            )
        }
    }
}
