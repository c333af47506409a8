import Foundation
import Gateway
import NIOHTTP1
import PaymentService
import Synchronization
import Testing

/// Holds the running server to `openapi.json`: every response it gives to a broad set of
/// requests is documented (path, method, status) and matches its documented schema and
/// headers; every documented response is exercised; undocumented routes answer 404.
@Suite struct OpenAPIContractTests {
    let document: JSONValue
    let validator: SchemaValidator

    init() throws {
        document = try JSONValue.parse(Data(Gateway.openAPIDocument))
        validator = SchemaValidator(document: document)
    }

    /// Statuses that a healthy server cannot be made to give on purpose. The 503s are
    /// provoked by the tests that stop a dependency, which check them with
    /// ``problems(of:method:path:)``.
    static let unprovokable: Set<String> = ["500", "503"]
    /// Answers given only when a payment provider does not answer in time (tested in
    /// `PaymentsEndToEndTests` and `PaymentsTests` with a slow provider, not here).
    static let waitingOnProvider: Set<String> = [
        "post /api/v1/payments/{id}/capture 202", "post /api/v1/payments/{id}/cancel 202", "post /api/v1/payments/{id}/refunds 202",
    ]

    /// What is wrong with `result` as an answer to `method path`, by the document: for
    /// tests elsewhere that provoke answers this suite cannot (a stopped dependency).
    /// `limitStoreUp`: false where the rate-limit store is down and the edge fails open,
    /// the one case in which `RateLimit` is absent by the document.
    static func problems(of result: HTTPResult, method: NIOHTTP1.HTTPMethod, path: String, limitStoreUp: Bool = true) throws -> [String] {
        try OpenAPIContractTests().conformance(of: result, method: method, path: path, limitStoreUp: limitStoreUp)
    }

    /// Calls `method path` on `shop`, checks the answer against the document, and notes
    /// which documented response it exercised.
    private func check(
        _ shop: RunningShop,
        _ method: NIOHTTP1.HTTPMethod,
        _ path: String,
        json: String? = nil,
        body: Data? = nil,
        headers: [(String, String)] = [],
        covered: inout Set<String>
    ) async throws -> HTTPResult {
        let result = try await shop.request(method, path, headers: headers, json: json, body: body)
        let problems = conformance(of: result, method: method, path: path)
        #expect(problems.isEmpty, "\(method) \(path) → \(result.status): \(problems)")
        if let template = template(for: path) {
            covered.insert("\(method.rawValue.lowercased()) \(template) \(result.status)")
        }
        return result
    }

    @Test func theServerAnswersExactlyAsDocumented() async throws {
        let covered = Mutex<Set<String>>([])
        try await TestServer.with(environment: Self.notificationsEnvironment) { admin in
            var seen: Set<String> = []
            defer { covered.withLock { $0.formUnion(seen) } }
            func check(
                as shop: RunningShop? = nil,
                _ method: NIOHTTP1.HTTPMethod,
                _ path: String,
                json: String? = nil,
                body: Data? = nil,
                headers: [(String, String)] = []
            ) async throws -> HTTPResult {
                try await self.check(shop ?? admin, method, path, json: json, body: body, headers: headers, covered: &seen)
            }
            let anonymous = admin.anonymous
            let forged = admin.signedIn(as: "eyJhbGciOiJub25lIn0.e30.")
            let oversize = "{\"name\":\"" + String(repeating: "x", count: 1 << 20) + "\"}"
            let password = "correct horse battery staple"

            _ = try await check(.GET, "/health/live")
            _ = try await check(.GET, "/health/ready")
            _ = try await check(.GET, "/api/v1/openapi.json")
            _ = try await check(.GET, "/.well-known/jwks.json")
            let created = try await check(
                as: anonymous,
                .POST,
                "/api/v1/users",
                json: #"{"email":"c@example.com","name":"C","password":"\#(password)"}"#
            )
            let id = try #require(created.json?["data"]?["id"]?.integer)
            _ = try await check(.POST, "/api/v1/users", json: #"{"email":"staff@example.com","name":"S","password":"\#(password)","role":"staff"}"#)
            _ = try await check(.POST, "/api/v1/users", json: #"{"email":"c@example.com","name":"C","password":"\#(password)"}"#)
            _ = try await check(
                as: anonymous,
                .POST,
                "/api/v1/users",
                json: #"{"email":"boss@example.com","name":"B","password":"\#(password)","role":"admin"}"#
            )
            _ = try await check(as: forged, .POST, "/api/v1/users", json: #"{"email":"f@example.com","name":"F","password":"\#(password)"}"#)
            _ = try await check(
                .POST,
                "/api/v1/users",
                json: #"{"email":"k@example.com","name":"K","password":"\#(password)"}"#,
                headers: [("Idempotency-Key", "contract")]
            )
            let replay = try await check(
                .POST,
                "/api/v1/users",
                json: #"{"email":"k@example.com","name":"K","password":"\#(password)"}"#,
                headers: [("Idempotency-Key", "contract")]
            )
            #expect(replay.header("Idempotent-Replayed") == "true")
            _ = try await check(
                .POST,
                "/api/v1/users",
                json: #"{"email":"other@example.com","name":"O","password":"\#(password)"}"#,
                headers: [("Idempotency-Key", "contract")]
            )
            _ = try await check(.POST, "/api/v1/users", json: "{")
            _ = try await check(.POST, "/api/v1/users", json: oversize)

            var customer = admin.signedIn(as: try await admin.logIn("c@example.com").access)
            let staff = admin.signedIn(as: try await admin.logIn("staff@example.com").access)
            _ = try await check(.GET, "/api/v1/users")
            _ = try await check(.GET, "/api/v1/users?per_page=1&page=2&sort=-created_at")
            _ = try await check(.GET, "/api/v1/users?cursor=&per_page=1")
            _ = try await check(.GET, "/api/v1/users?per_page=0")
            _ = try await check(as: anonymous, .GET, "/api/v1/users")
            _ = try await check(as: customer, .GET, "/api/v1/users")
            _ = try await check(.GET, "/api/v1/users/\(id)")
            _ = try await check(as: customer, .GET, "/api/v1/users/me")
            _ = try await check(.GET, "/api/v1/users/424242")
            _ = try await check(.GET, "/api/v1/users/x")
            _ = try await check(as: anonymous, .GET, "/api/v1/users/\(id)")
            _ = try await check(.PATCH, "/api/v1/users/\(id)", json: #"{"name":"C2"}"#)
            _ = try await check(.PATCH, "/api/v1/users/\(id)", json: "nope")
            _ = try await check(.PATCH, "/api/v1/users/\(id)", json: oversize)
            _ = try await check(.PATCH, "/api/v1/users/\(id)", json: #"{"email":"bad"}"#)
            _ = try await check(.PATCH, "/api/v1/users/424242", json: #"{"name":"Nobody"}"#)
            _ = try await check(as: anonymous, .PATCH, "/api/v1/users/\(id)", json: #"{"name":"C3"}"#)
            _ = try await check(as: staff, .PATCH, "/api/v1/users/\(id)", json: #"{"name":"C3"}"#)

            _ = try await check(.GET, "/api/v1/audit-events")
            _ = try await check(.GET, "/api/v1/audit-events?user_id=\(id)&per_page=1&cursor=")
            _ = try await check(.GET, "/api/v1/audit-events?user_id=zero")
            _ = try await check(as: customer, .GET, "/api/v1/audit-events")
            _ = try await check(as: anonymous, .GET, "/api/v1/audit-events")
            _ = try await check(.GET, "/api/v1/users/\(id)/preferences")
            _ = try await check(.GET, "/api/v1/users/424242/preferences")
            _ = try await check(.GET, "/api/v1/users/0/preferences")
            _ = try await check(as: anonymous, .GET, "/api/v1/users/me/preferences")
            let preferences = #"{"marketing_emails":true,"order_emails":true,"sms":false,"push":true,"locale":"de-CH"}"#
            _ = try await check(as: customer, .PUT, "/api/v1/users/me/preferences", json: preferences)
            _ = try await check(.PUT, "/api/v1/users/424242/preferences", json: preferences)
            _ = try await check(as: staff, .PUT, "/api/v1/users/\(id)/preferences", json: preferences)
            _ = try await check(as: anonymous, .PUT, "/api/v1/users/\(id)/preferences", json: preferences)
            _ = try await check(as: customer, .PUT, "/api/v1/users/me/preferences", json: #"{"locale":"x"}"#)
            _ = try await check(as: customer, .PUT, "/api/v1/users/me/preferences", json: "[")
            _ = try await check(as: customer, .PUT, "/api/v1/users/me/preferences", json: oversize)

            let change = #"{"current_password":"\#(password)","new_password":"another good password"}"#
            _ = try await check(as: staff, .PUT, "/api/v1/users/\(id)/password", json: change)
            _ = try await check(as: customer, .PUT, "/api/v1/users/424242/password", json: change)
            _ = try await check(as: anonymous, .PUT, "/api/v1/users/me/password", json: change)
            _ = try await check(as: customer, .PUT, "/api/v1/users/me/password", json: #"{"current_password":"wrong","new_password":"short"}"#)
            _ = try await check(as: customer, .PUT, "/api/v1/users/me/password", json: "")
            _ = try await check(as: customer, .PUT, "/api/v1/users/me/password", json: oversize)
            _ = try await check(as: customer, .PUT, "/api/v1/users/me/password", json: change)
            // The change ended the customer's sessions: a new login.
            customer = admin.signedIn(as: try await admin.logIn("c@example.com", password: "another good password").access)

            let login = #"{"email":"staff@example.com","password":"\#(password)"}"#
            let session = try await check(as: anonymous, .POST, "/api/v1/auth/token", json: login)
            let refresh = try #require(session.json?["data"]?["refresh_token"]?.string)
            _ = try await check(as: anonymous, .POST, "/api/v1/auth/token", json: #"{"email":"staff@example.com","password":"nope-nope"}"#)
            _ = try await check(as: anonymous, .POST, "/api/v1/auth/token", json: #"{"email":"staff@example.com"}"#)
            _ = try await check(as: anonymous, .POST, "/api/v1/auth/token", json: "{")
            _ = try await check(as: anonymous, .POST, "/api/v1/auth/token", json: oversize)
            let rotated = try await check(as: anonymous, .POST, "/api/v1/auth/refresh", json: #"{"refresh_token":"\#(refresh)"}"#)
            let next = try #require(rotated.json?["data"]?["refresh_token"]?.string)
            _ = try await check(as: anonymous, .POST, "/api/v1/auth/refresh", json: #"{"refresh_token":"\#(refresh)"}"#)
            _ = try await check(as: anonymous, .POST, "/api/v1/auth/refresh", json: "{}")
            _ = try await check(as: anonymous, .POST, "/api/v1/auth/refresh", json: "x")
            _ = try await check(as: anonymous, .POST, "/api/v1/auth/refresh", json: oversize)
            _ = try await check(as: anonymous, .POST, "/api/v1/auth/logout", json: #"{"refresh_token":"\#(next)"}"#)
            _ = try await check(as: anonymous, .POST, "/api/v1/auth/logout", json: #"{"token":"\#(next)"}"#)
            _ = try await check(as: anonymous, .POST, "/api/v1/auth/logout", json: "x")
            _ = try await check(as: anonymous, .POST, "/api/v1/auth/logout", json: oversize)

            let clothes = try await check(.POST, "/api/v1/categories", json: #"{"slug":"clothes","name":"Clothes"}"#)
            let clothesID = try #require(clothes.json?["data"]?["id"]?.integer)
            _ = try await check(.POST, "/api/v1/categories", json: #"{"slug":"shirts","name":"Shirts","parent_id":\#(clothesID)}"#)
            _ = try await check(.POST, "/api/v1/categories", json: #"{"slug":"Bad Slug","name":"X","parent_id":424242}"#)
            _ = try await check(.POST, "/api/v1/categories", json: "{")
            _ = try await check(.POST, "/api/v1/categories", json: oversize)
            _ = try await check(as: anonymous, .POST, "/api/v1/categories", json: "{}")
            _ = try await check(as: customer, .POST, "/api/v1/categories", json: "{}")
            let categoryList = try await check(as: anonymous, .GET, "/api/v1/categories")
            _ = try await check(as: anonymous, .GET, "/api/v1/categories", headers: [("If-None-Match", try #require(categoryList.header("ETag")))])
            _ = try await check(as: anonymous, .GET, "/api/v1/categories?cursor=")
            _ = try await check(as: forged, .GET, "/api/v1/categories")
            let category = try await check(as: anonymous, .GET, "/api/v1/categories/\(clothesID)")
            _ = try await check(
                as: anonymous,
                .GET,
                "/api/v1/categories/\(clothesID)",
                headers: [("If-None-Match", try #require(category.header("ETag")))]
            )
            _ = try await check(as: anonymous, .GET, "/api/v1/categories/424242")
            _ = try await check(as: anonymous, .GET, "/api/v1/categories/x")
            _ = try await check(as: forged, .GET, "/api/v1/categories/\(clothesID)")
            let categoryPath = "/api/v1/categories/\(clothesID)"
            _ = try await check(.PATCH, categoryPath, json: #"{"name":"Clothing","slug":"clothing"}"#)
            _ = try await check(.PATCH, categoryPath, json: #"{"parent_id":\#(clothesID)}"#)
            _ = try await check(.PATCH, categoryPath, json: "{")
            _ = try await check(.PATCH, categoryPath, json: oversize)
            _ = try await check(.PATCH, "/api/v1/categories/424242", json: #"{"name":"X"}"#)
            _ = try await check(as: anonymous, .PATCH, categoryPath, json: #"{"name":"X"}"#)
            _ = try await check(as: customer, .PATCH, categoryPath, json: #"{"name":"X"}"#)
            _ = try await check(as: anonymous, .GET, "/api/v1/products?category_id=\(clothesID)")
            _ = try await check(as: anonymous, .GET, "/api/v1/products?q=tee&sort=-price")
            _ = try await check(as: anonymous, .GET, "/api/v1/products?q=%21%21")
            let product = try await check(
                .POST,
                "/api/v1/products",
                json: #"{"sku":"tee-1","name":"Tee","price":{"amount":1999,"currency":"EUR"},"status":"active","category_id":\#(clothesID)}"#
            )
            let productID = try #require(product.json?["data"]?["id"]?.integer)
            let etag = try #require(product.header("ETag"))
            _ = try await check(.POST, "/api/v1/products", json: #"{"sku":"TEE-1","name":"Twin","price":{"amount":1,"currency":"EUR"}}"#)
            _ = try await check(.POST, "/api/v1/products", json: "{")
            _ = try await check(.POST, "/api/v1/products", json: oversize)
            _ = try await check(as: anonymous, .POST, "/api/v1/products", json: "{}")
            _ = try await check(as: customer, .POST, "/api/v1/products", json: "{}")
            let productList = try await check(as: anonymous, .GET, "/api/v1/products?sort=price&min_price=100")
            _ = try await check(
                as: anonymous,
                .GET,
                "/api/v1/products?sort=price&min_price=100",
                headers: [("If-None-Match", try #require(productList.header("ETag")))]
            )
            _ = try await check(as: anonymous, .GET, "/api/v1/products?cursor=&per_page=1")
            _ = try await check(.GET, "/api/v1/products?status=draft")
            _ = try await check(as: customer, .GET, "/api/v1/products?status=draft")
            _ = try await check(as: forged, .GET, "/api/v1/products")
            _ = try await check(as: anonymous, .GET, "/api/v1/products/\(productID)")
            _ = try await check(as: anonymous, .GET, "/api/v1/products/\(productID)", headers: [("If-None-Match", etag)])
            _ = try await check(as: forged, .GET, "/api/v1/products/\(productID)")
            _ = try await check(as: anonymous, .GET, "/api/v1/products/424242")
            _ = try await check(as: anonymous, .GET, "/api/v1/products/x")
            _ = try await check(as: anonymous, .GET, "/api/v1/products/by-slug/tee")
            _ = try await check(as: anonymous, .GET, "/api/v1/products/by-slug/tee", headers: [("If-None-Match", etag)])
            _ = try await check(as: forged, .GET, "/api/v1/products/by-slug/tee")
            _ = try await check(as: anonymous, .GET, "/api/v1/products/by-slug/no-such-thing")
            _ = try await check(as: anonymous, .GET, "/api/v1/products/by-slug/Not_A_Slug")
            _ = try await check(
                .POST,
                "/api/v1/products",
                json:
                    #"{"sku":"mug-1","slug":"blue-mug","name":"Mug","price":{"amount":900,"currency":"EUR"},"attributes":{"color":"blue","volume_ml":"350"}}"#
            )
            _ = try await check(.PATCH, "/api/v1/products/\(productID)", json: #"{"name":"Tee 2"}"#, headers: [("If-Match", etag)])
            _ = try await check(.PATCH, "/api/v1/products/\(productID)", json: #"{"name":"Tee 3"}"#, headers: [("If-Match", etag)])
            _ = try await check(.PATCH, "/api/v1/products/\(productID)", json: "[")
            _ = try await check(.PATCH, "/api/v1/products/\(productID)", json: oversize)
            _ = try await check(.PATCH, "/api/v1/products/\(productID)", json: #"{"price":{"amount":-1,"currency":"EUR"}}"#)
            _ = try await check(.PATCH, "/api/v1/products/424242", json: #"{"name":"X"}"#)
            _ = try await check(as: anonymous, .PATCH, "/api/v1/products/\(productID)", json: #"{"name":"X"}"#)
            _ = try await check(as: customer, .PATCH, "/api/v1/products/\(productID)", json: #"{"name":"X"}"#)
            let adjustments = "/api/v1/products/\(productID)/inventory/adjustments"
            _ = try await check(.POST, adjustments, json: #"{"change":10,"reason":"delivery"}"#)
            _ = try await check(.POST, adjustments, json: #"{"change":-11,"reason":"count"}"#)
            _ = try await check(.POST, adjustments, json: #"{"change":0}"#)
            _ = try await check(.POST, adjustments, json: "x")
            _ = try await check(.POST, adjustments, json: oversize)
            _ = try await check(.POST, "/api/v1/products/424242/inventory/adjustments", json: #"{"change":1,"reason":"r"}"#)
            _ = try await check(as: anonymous, .POST, adjustments, json: #"{"change":1,"reason":"r"}"#)
            _ = try await check(as: customer, .POST, adjustments, json: #"{"change":1,"reason":"r"}"#)
            let images = "/api/v1/products/\(productID)/images"
            let png = ProductImagesEndToEndTests.png
            let uploaded = try await check(.POST, images, body: png, headers: [("Idempotency-Key", "contract-image")])
            _ = try await check(.POST, images, body: png + Data([0]), headers: [("Idempotency-Key", "contract-image")])
            _ = try await check(.POST, images, body: png)
            _ = try await check(.POST, images, body: Data("GIF89a".utf8))
            _ = try await check(.POST, images, body: Data(count: (10 << 20) + 1))
            _ = try await check(.POST, "/api/v1/products/424242/images", body: png)
            _ = try await check(as: anonymous, .POST, images, body: png)
            _ = try await check(as: customer, .POST, images, body: png)
            let imageURL = try #require(uploaded.json?["data"]?["url"]?.string)
            let imageID = try #require(uploaded.json?["data"]?["id"]?.integer)
            let served = try await check(as: anonymous, .GET, imageURL)
            _ = try await check(as: anonymous, .GET, imageURL, headers: [("If-None-Match", try #require(served.header("ETag")))])
            _ = try await check(as: anonymous, .GET, "/images/" + String(repeating: "a", count: 64) + ".webp")
            _ = try await check(as: anonymous, .DELETE, "\(images)/\(imageID)")
            _ = try await check(as: customer, .DELETE, "\(images)/\(imageID)")
            _ = try await check(.DELETE, "\(images)/x")
            _ = try await check(.DELETE, "\(images)/\(imageID)")
            _ = try await check(.DELETE, "\(images)/\(imageID)")
            let createKey = [("Idempotency-Key", "contract-product")]
            _ = try await check(
                .POST,
                "/api/v1/products",
                json: #"{"sku":"sock-1","name":"Sock","price":{"amount":500,"currency":"EUR"}}"#,
                headers: createKey
            )
            _ = try await check(
                .POST,
                "/api/v1/products",
                json: #"{"sku":"sock-1","name":"Sock","price":{"amount":501,"currency":"EUR"}}"#,
                headers: createKey
            )
            let archive = "/api/v1/products/\(productID)/archive"
            _ = try await check(.POST, archive, headers: [("If-Match", etag)])
            _ = try await check(as: anonymous, .POST, archive)
            _ = try await check(as: customer, .POST, archive)
            _ = try await check(.POST, "/api/v1/products/424242/archive")
            _ = try await check(.POST, "/api/v1/products/x/archive")
            _ = try await check(.POST, archive)

            // Carts: a guest's opened by its token, a customer's, and the merge at login.
            let cartProduct = try await check(
                .POST,
                "/api/v1/products",
                json: #"{"sku":"cart-mug","name":"Cart mug","price":{"amount":1200,"currency":"EUR"},"status":"active"}"#
            )
            let mug = try #require(cartProduct.json?["data"]?["id"]?.integer)
            _ = try await admin.request(.POST, "/api/v1/products/\(mug)/inventory/adjustments", json: #"{"change":5,"reason":"delivery"}"#)
            let dollars = try await admin.request(
                .POST,
                "/api/v1/products",
                json: #"{"sku":"cart-usd","name":"Dollar mug","price":{"amount":900,"currency":"USD"},"status":"active"}"#
            )
            let dollarMug = try #require(dollars.json?["data"]?["id"]?.integer)
            let guestCart = try await check(as: anonymous, .POST, "/api/v1/carts")
            let cartToken = try #require(guestCart.json?["data"]?["cart_token"]?.string)
            _ = try await check(as: forged, .POST, "/api/v1/carts")
            _ = try await check(as: anonymous, .POST, "/api/v1/carts", json: #"{"lines":[{"product_id":\#(mug),"quantity":1}]}"#)
            _ = try await check(as: anonymous, .POST, "/api/v1/carts", json: #"{"lines":[{"product_id":424242,"quantity":1}]}"#)
            _ = try await check(
                as: anonymous,
                .POST,
                "/api/v1/carts",
                json: #"{"lines":[{"product_id":\#(mug),"quantity":1},{"product_id":\#(dollarMug),"quantity":1}]}"#
            )
            _ = try await check(as: anonymous, .POST, "/api/v1/carts", json: #"{"lines":[{"product_id":\#(mug),"quantity":0}]}"#)
            _ = try await check(as: anonymous, .POST, "/api/v1/carts", json: "{")
            _ = try await check(as: anonymous, .POST, "/api/v1/carts", json: oversize)
            let guest = [("X-Cart-Token", cartToken)]
            _ = try await check(as: anonymous, .GET, "/api/v1/cart", headers: guest)
            _ = try await check(as: anonymous, .GET, "/api/v1/cart")
            _ = try await check(
                as: anonymous,
                .GET,
                "/api/v1/cart",
                headers: [("X-Cart-Token", "cart_000000000000000000000000.nope-nope-nope-nope-nope")]
            )
            let line = "/api/v1/cart/lines/\(mug)"
            _ = try await check(as: anonymous, .PUT, line, json: #"{"quantity":2}"#, headers: guest)
            _ = try await check(as: anonymous, .PUT, "/api/v1/cart/lines/\(dollarMug)", json: #"{"quantity":1}"#, headers: guest)
            _ = try await check(as: anonymous, .PUT, "/api/v1/cart/lines/424242", json: #"{"quantity":1}"#, headers: guest)
            _ = try await check(as: anonymous, .PUT, line, json: #"{"quantity":100}"#, headers: guest)
            _ = try await check(as: anonymous, .PUT, line, json: "{", headers: guest)
            _ = try await check(as: anonymous, .PUT, line, json: oversize, headers: guest)
            _ = try await check(as: anonymous, .PUT, line, json: #"{"quantity":1}"#)
            _ = try await check(as: anonymous, .DELETE, "/api/v1/cart/lines/x", headers: guest)
            _ = try await check(as: anonymous, .DELETE, "/api/v1/cart/lines/424242")
            _ = try await check(as: anonymous, .DELETE, "/api/v1/cart/lines/424242", headers: [("X-Cart-Token", "junk")])
            _ = try await check(as: customer, .PUT, line, json: #"{"quantity":1}"#)
            _ = try await check(as: customer, .DELETE, "/api/v1/cart/lines/\(dollarMug)")
            _ = try await check(as: customer, .POST, "/api/v1/cart/merge")
            _ = try await check(as: anonymous, .POST, "/api/v1/cart/merge", headers: guest)
            _ = try await check(as: customer, .POST, "/api/v1/cart/merge", headers: [("X-Cart-Token", "junk")])
            let merged = try await check(as: customer, .POST, "/api/v1/cart/merge", headers: guest)
            #expect(merged.json?["data"]?["lines"]?.array?.first?["quantity"]?.integer == 3)
            _ = try await check(as: customer, .GET, "/api/v1/cart")
            _ = try await check(as: customer, .GET, "/api/v1/cart", headers: [("X-Cart-Token", String(repeating: "t", count: 129))])

            // Payments: made through the internal API as Orders makes them, then read,
            // captured, voided and refunded through the public one.
            let internalAPI = try admin.internalListener
            func pay(_ order: String, _ number: String, capture: String = "automatic") async throws -> HTTPResult {
                try await internalAPI.request(
                    .POST,
                    "/internal/v1/payments",
                    headers: [("Authorization", "Bearer \(TestServer.internalToken)"), ("Idempotency-Key", "key-\(order)")],
                    json:
                        #"{"order_id":"\#(order)","customer_id":\#(id),"amount":1000,"currency":"EUR","capture_method":"\#(capture)","payment_method":{"card":{"number":"\#(number)","exp_month":12,"exp_year":2034}}}"#
                )
            }
            let paid = try await pay("order-a", "4242424242424242")
            #expect(paid.status == 201)
            let paidID = try #require(paid.json?["data"]?["id"]?.string)
            let held = try await pay("order-b", "4242424242424242", capture: "manual")
            let heldID = try #require(held.json?["data"]?["id"]?.string)
            let declined = try await pay("order-c", "4000000000000002")
            #expect(declined.status == 402)
            #expect(declined.json?["error"]?["decline_code"]?.string == "card_declined")
            let voidable = try #require(try await pay("order-d", "5555555555554444", capture: "manual").json?["data"]?["id"]?.string)
            let missing = "/api/v1/payments/pay_000000000000000000000000"
            _ = try await check(.GET, "/api/v1/payments")
            _ = try await check(.GET, "/api/v1/payments?status=succeeded&per_page=1&sort=created_at")
            _ = try await check(.GET, "/api/v1/payments?cursor=&per_page=1")
            _ = try await check(.GET, "/api/v1/payments?status=lost")
            _ = try await check(as: customer, .GET, "/api/v1/payments")
            _ = try await check(as: anonymous, .GET, "/api/v1/payments")
            _ = try await check(.GET, "/api/v1/payments/\(paidID)")
            _ = try await check(as: customer, .GET, "/api/v1/payments/\(paidID)")
            _ = try await check(as: staff, .GET, missing)
            _ = try await check(as: anonymous, .GET, "/api/v1/payments/\(paidID)")
            let capture = "/api/v1/payments/\(heldID)/capture"
            _ = try await check(.POST, capture, json: #"{"amount":0}"#)
            _ = try await check(.POST, capture, json: "{")
            _ = try await check(.POST, capture, json: oversize)
            _ = try await check(as: customer, .POST, capture, json: "{}")
            _ = try await check(as: anonymous, .POST, capture, json: "{}")
            _ = try await check(.POST, missing + "/capture", json: "{}")
            _ = try await check(.POST, capture, json: #"{"amount":400}"#, headers: [("Idempotency-Key", "capture-1")])
            _ = try await check(.POST, capture, json: #"{"amount":400}"#, headers: [("Idempotency-Key", "capture-1")])
            _ = try await check(.POST, capture, json: #"{"amount":300}"#, headers: [("Idempotency-Key", "capture-1")])
            _ = try await check(.POST, capture, json: #"{"amount":100}"#)
            let cancel = "/api/v1/payments/\(voidable)/cancel"
            _ = try await check(as: customer, .POST, cancel)
            _ = try await check(as: anonymous, .POST, cancel)
            _ = try await check(.POST, missing + "/cancel")
            _ = try await check(.POST, cancel, headers: [("Idempotency-Key", String(repeating: "k", count: 256))])
            _ = try await check(.POST, cancel)
            _ = try await check(.POST, "/api/v1/payments/\(paidID)/cancel")
            let refunds = "/api/v1/payments/\(paidID)/refunds"
            func key(_ value: String) -> [(String, String)] { [("Idempotency-Key", value)] }
            _ = try await check(.POST, refunds, json: #"{"amount":300,"reason":"damaged in transit"}"#, headers: key("refund-1"))
            _ = try await check(.POST, refunds, json: #"{"amount":100000,"reason":"too much"}"#, headers: key("refund-2"))
            _ = try await check(.POST, refunds, json: #"{"amount":100}"#, headers: key("refund-3"))
            _ = try await check(.POST, refunds, json: #"{"amount":100,"reason":"no key"}"#)
            _ = try await check(.POST, refunds, json: "{", headers: key("refund-4"))
            _ = try await check(.POST, refunds, json: oversize, headers: key("refund-5"))
            _ = try await check(as: customer, .POST, refunds, json: #"{"reason":"mine"}"#, headers: key("refund-6"))
            _ = try await check(as: anonymous, .POST, refunds, json: #"{"reason":"anyone"}"#, headers: key("refund-7"))
            _ = try await check(.POST, missing + "/refunds", json: #"{"reason":"nobody"}"#, headers: key("refund-8"))
            _ = try await check(.POST, "/api/v1/payments/\(voidable)/refunds", json: #"{"reason":"voided"}"#, headers: key("refund-9"))
            let webhook = "/api/v1/payments/webhooks/test"
            let notice = Array(
                #"{"id":"evt_1","type":"payment_intent.succeeded","data":{"object":{"id":"pi_x","object":"payment_intent","metadata":{"payment_id":"\#(paidID)"}}}}"#
                    .utf8
            )
            let signature = WebhookSignature(secret: TestServer.webhookSecret).header(for: notice, at: Date())
            _ = try await check(
                as: anonymous,
                .POST,
                webhook,
                body: Data(notice),
                headers: [("Stripe-Signature", signature), ("Content-Type", "application/json")]
            )
            _ = try await check(as: anonymous, .POST, webhook, body: Data(notice), headers: [("Content-Type", "application/json")])
            let notAnEvent = Array("{}".utf8)
            let signedNothing = WebhookSignature(secret: TestServer.webhookSecret).header(for: notAnEvent, at: Date())
            _ = try await check(
                as: anonymous,
                .POST,
                webhook,
                body: Data(notAnEvent),
                headers: [("Stripe-Signature", signedNothing), ("Content-Type", "application/json")]
            )
            _ = try await check(as: anonymous, .POST, webhook, json: oversize)

            try await exerciseOrders(admin, staff: staff, oversize: oversize) { shop, method, path, json, headers in
                try await check(as: shop, method, path, json: json, headers: headers)
            }
            try await exerciseReports(admin, staff: staff, oversize: oversize) { shop, method, path, json, headers in
                try await check(as: shop, method, path, json: json, headers: headers)
            }
            try await exerciseNotifications(admin, staff: staff, oversize: oversize) { shop, method, path, json, headers in
                try await check(as: shop, method, path, json: json, headers: headers)
            }
            try await exerciseContacts(admin, staff: staff, oversize: oversize) { shop, method, path, json, headers in
                try await check(as: shop, method, path, json: json, headers: headers)
            }

            _ = try await check(as: staff, .DELETE, "/api/v1/users/\(id)")
            _ = try await check(as: anonymous, .DELETE, "/api/v1/users/\(id)")
            _ = try await check(.DELETE, "/api/v1/users/\(id)")
            _ = try await check(.DELETE, "/api/v1/users/\(id)")
            _ = try await check(.DELETE, "/api/v1/users/-1")

            let envelope = try #require(validator.resolve("#/components/schemas/ErrorEnvelope"))
            for (method, path) in [
                (NIOHTTP1.HTTPMethod.GET, "/api/v2/users"), (.GET, "/users"), (.GET, "/metrics"), (.GET, "/metrics/secret"),
                (.POST, "/metrics"), (.POST, "/internal/v1/reservations"), (.GET, "/api/v1/users/1/nothing"),
            ] {
                let result = try await admin.request(method, path, json: method == .GET ? nil : "{}")
                #expect(result.status == 404, "\(method) \(path) is undocumented but answered \(result.status)")
                #expect(validator.violations(of: result.json ?? .null, against: envelope).isEmpty)
            }
            // A documented path with a method it does not serve: 405 naming the ones it does.
            for (method, path, allow) in [
                (NIOHTTP1.HTTPMethod.POST, "/api/v1/users/1", "DELETE, GET, PATCH"), (.PUT, "/api/v1/users", "GET, POST"),
                (.DELETE, "/api/v1/users", "GET, POST"), (.POST, "/health/live", "GET"), (.GET, "/api/v1/auth/token", "POST"),
                (.POST, "/.well-known/jwks.json", "GET"),
            ] {
                let result = try await admin.request(method, path, json: method == .GET ? nil : "{}")
                #expect(result.status == 405, "\(method) \(path) answered \(result.status)")
                #expect(result.header("Allow") == allow, "\(method) \(path)")
                #expect(result.json?["error"]?["code"]?.string == "METHOD_NOT_ALLOWED")
                #expect(validator.violations(of: result.json ?? .null, against: envelope).isEmpty)
            }
        }

        // Reports whose builder has not run yet.
        try await TestServer.with(environment: ["ORDERS_REPORTS_EVERY_MS": "3600000"]) { admin in
            var seen: Set<String> = []
            defer { covered.withLock { $0.formUnion(seen) } }
            try await exerciseUnbuiltReport(admin) { shop, method, path, json, headers in
                try await self.check(shop ?? admin, method, path, json: json, headers: headers, covered: &seen)
            }
        }

        // Every versioned operation, once its caller's budget is spent, is refused as documented.
        let tight = ["RATE_LIMIT": "1/60", "RATE_LIMIT_CREDENTIALS": "1/60"]
        try await TestServer.with(environment: tight) { admin in
            var seen: Set<String> = []
            defer { covered.withLock { $0.formUnion(seen) } }
            for (method, template) in documentedOperations() where template.hasPrefix("/api/v1/") {
                let path = template.replacingOccurrences(of: "{id}", with: "me")
                var result = try await check(admin, method, path, json: method == .GET ? nil : "{}", covered: &seen)
                if result.status != 429 {
                    result = try await check(admin, method, path, json: method == .GET ? nil : "{}", covered: &seen)
                }
                #expect(result.status == 429, "\(method) \(path)")
                #expect(result.header("Retry-After") != nil)
            }
        }

        let documented = documentedResponses().filter {
            !Self.unprovokable.contains(String($0.split(separator: " ").last!)) && !Self.waitingOnProvider.contains($0)
        }
        let missing = documented.subtracting(covered.withLock { $0 }).sorted()
        #expect(missing.isEmpty, "documented but never exercised: \(missing)")
    }

    /// Every operation of the document, as method and path template.
    func documentedOperations() -> [(NIOHTTP1.HTTPMethod, String)] {
        var result: [(NIOHTTP1.HTTPMethod, String)] = []
        for (path, item) in document["paths"]?.object ?? [:] {
            for method in (item.object ?? [:]).keys where method != "parameters" {
                result.append((NIOHTTP1.HTTPMethod(rawValue: method.uppercased()), path))
            }
        }
        return result.sorted { $0.1 + $0.0.rawValue < $1.1 + $1.0.rawValue }
    }

    /// Every "method path status" the document promises.
    func documentedResponses() -> Set<String> {
        var result: Set<String> = []
        for (path, item) in document["paths"]?.object ?? [:] {
            for (method, operation) in item.object ?? [:] where method != "parameters" {
                for status in operation["responses"]?.object?.keys ?? [:].keys {
                    result.insert("\(method) \(path) \(status)")
                }
            }
        }
        return result
    }

    /// The documented path template that `path` (query stripped) falls under: the one with
    /// the fewest parameters when several do, as the router prefers a literal segment over
    /// a parameter in the same place.
    func template(for path: String) -> String? {
        let bare = String(path.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)[0])
        let segments = bare.split(separator: "/", omittingEmptySubsequences: false)
        return document["paths"]?.object?.keys.filter { template in
            let parts = template.split(separator: "/", omittingEmptySubsequences: false)
            return parts.count == segments.count
                && zip(parts, segments).allSatisfy { $0.hasPrefix("{") || $0 == $1 }
        }.min { $0.filter { $0 == "{" }.count < $1.filter { $0 == "{" }.count }
    }

    /// What is wrong with `result` as an answer to `method path`, by the document.
    func conformance(of result: HTTPResult, method: NIOHTTP1.HTTPMethod, path: String, limitStoreUp: Bool = true) -> [String] {
        guard let template = template(for: path) else { return ["path is not documented"] }
        guard let operation = document["paths"]?[template]?[method.rawValue.lowercased()] else {
            return ["method is not documented"]
        }
        guard let response = validator.dereference(operation["responses"]?[String(result.status)]) else {
            return ["status \(result.status) is not documented"]
        }
        var problems: [String] = []
        // RateLimit is absent only when the limit store is down and the edge fails open,
        // which no request of this suite meets: wherever the policy is announced, so is it.
        if limitStoreUp, result.header("RateLimit-Policy") != nil, result.header("RateLimit") == nil {
            problems.append("RateLimit-Policy without RateLimit")
        }
        for (name, header) in response["headers"]?.object ?? [:] {
            guard let header = validator.dereference(header) else { continue }
            let value = result.header(name)
            if header["required"] == .bool(true), value == nil { problems.append("missing header \(name)") }
            if let value, let schema = header["schema"] {
                problems += validator.violations(of: .string(value), against: schema, at: name)
            }
        }
        if let schema = response["content"]?["application/json"]?["schema"] {
            guard result.header("Content-Type")?.hasPrefix("application/json") == true else {
                return problems + ["content type is \(result.header("Content-Type") ?? "missing")"]
            }
            guard let body = result.json else { return problems + ["body is not JSON"] }
            problems += validator.violations(of: body, against: schema)
        } else if let types = response["content"]?.object?.keys, types.contains(where: { $0.hasPrefix("image/") }) {
            if !types.contains(where: { result.header("Content-Type") == $0 }) {
                problems.append("content type is \(result.header("Content-Type") ?? "missing")")
            }
        } else if let type = ["text/plain", "text/csv"].first(where: { response["content"]?[$0] != nil }) {
            if result.header("Content-Type")?.hasPrefix(type) != true {
                problems.append("content type is \(result.header("Content-Type") ?? "missing")")
            }
        } else if !result.body.isEmpty {
            problems.append("undocumented body")
        }
        return problems
    }
}
