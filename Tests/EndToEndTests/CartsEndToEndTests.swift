import Foundation
import Testing

/// Carts over real HTTP through the guard: a guest fills a cart, signs up and in, and
/// merges it into the cart their account already had.
@Suite struct CartsEndToEndTests {
    @Test func aGuestCartFollowsItsOwnerThroughLogin() async throws {
        try await TestServer.with { admin in
            func product(_ sku: String, price: Int, stock: Int) async throws -> Int64 {
                let created = try await admin.request(
                    .POST,
                    "/api/v1/products",
                    json: #"{"sku":"\#(sku)","name":"\#(sku) name","price":{"amount":\#(price),"currency":"EUR"},"status":"active"}"#
                )
                let id = try #require(created.json?["data"]?["id"]?.integer)
                _ = try await admin.request(.POST, "/api/v1/products/\(id)/inventory/adjustments", json: #"{"change":\#(stock),"reason":"delivery"}"#)
                return id
            }
            let kettle = try await product("kettle-7", price: 3900, stock: 3)
            let mug = try await product("mug-7", price: 1200, stock: 10)

            let made = try await admin.anonymous.request(.POST, "/api/v1/carts")
            #expect(made.status == 201)
            let token = try #require(made.json?["data"]?["cart_token"]?.string)
            let guest = [("X-Cart-Token", token)]
            #expect(try await admin.anonymous.request(.PUT, "/api/v1/cart/lines/\(kettle)", headers: guest, json: #"{"quantity":2}"#).status == 200)
            let filled = try await admin.anonymous.request(.PUT, "/api/v1/cart/lines/\(mug)", headers: guest, json: #"{"quantity":1}"#)
            let subtotal: Int64? = filled.json?["data"]?["subtotal"]?["amount"]?.integer
            #expect(subtotal == Int64(2 * 3900 + 1200))
            #expect(filled.header("Cache-Control") == "private, no-store")
            #expect(filled.json?["data"]?["cart_token"] == nil, "the token is shown once")
            // Another guest's token opens nothing.
            let stranger = try #require(try await admin.anonymous.request(.POST, "/api/v1/carts").json?["data"]?["cart_token"]?.string)
            #expect(
                try await admin.anonymous.request(.GET, "/api/v1/cart", headers: [("X-Cart-Token", stranger)]).json?["data"]?["lines"]?.array?.isEmpty
                    == true
            )

            // The customer already had a kettle in the cart of their account.
            let (_, customer) = try await admin.customer("buyer@example.com")
            #expect(try await customer.request(.PUT, "/api/v1/cart/lines/\(kettle)", json: #"{"quantity":2}"#).status == 200)
            let merged = try await customer.request(.POST, "/api/v1/cart/merge", headers: guest)
            #expect(merged.status == 200)
            let lines = merged.json?["data"]?["lines"]?.array ?? []
            let quantities = Dictionary(
                uniqueKeysWithValues: lines.compactMap { line -> (Int64, Int64)? in
                    guard let id = line["product_id"]?.integer, let quantity = line["quantity"]?.integer else { return nil }
                    return (id, quantity)
                }
            )
            // 2 + 2 kettles, capped at the 3 in stock; the mug moved over.
            #expect(quantities == [kettle: 3, mug: 1])
            #expect(merged.json?["data"]?["checkout_ready"] == .bool(true))
            // Merging again changes nothing; the guest cart no longer opens.
            let again = try await customer.request(.POST, "/api/v1/cart/merge", headers: guest)
            #expect(again.json?["data"]?["lines"] == merged.json?["data"]?["lines"])
            #expect(try await admin.anonymous.request(.GET, "/api/v1/cart", headers: guest).status == 404)
            // Stock that runs out shows on the line, live.
            _ = try await admin.request(.POST, "/api/v1/products/\(kettle)/archive")
            let flagged = try await customer.request(.GET, "/api/v1/cart")
            #expect(flagged.json?["data"]?["lines"]?.array?.first?["problem"]?.string == "archived")
            #expect(flagged.json?["data"]?["checkout_ready"] == .bool(false))
        }
    }
}
