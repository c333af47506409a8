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

/// `POST /api/v1/carts` with its first lines: one request for a first "add to cart".
@Suite struct NewCartWithLinesEndToEndTests {
    @Test func aNewCartHoldsTheLinesItWasMadeWithOrRefusesThemAll() async throws {
        try await TestServer.with { admin in
            func product(_ sku: String, currency: String = "EUR", stock: Int) async throws -> Int64 {
                let created = try await admin.request(
                    .POST,
                    "/api/v1/products",
                    json: #"{"sku":"\#(sku)","name":"\#(sku) name","price":{"amount":500,"currency":"\#(currency)"},"status":"active"}"#
                )
                let id = try #require(created.json?["data"]?["id"]?.integer)
                _ = try await admin.request(.POST, "/api/v1/products/\(id)/inventory/adjustments", json: #"{"change":\#(stock),"reason":"delivery"}"#)
                return id
            }
            let kettle = try await product("kettle-9", stock: 2)
            let mug = try await product("mug-9", stock: 10)
            let dollars = try await product("mug-usd-9", currency: "USD", stock: 10)
            let guest = admin.anonymous

            // In the order given; a product given twice keeps its first place and its last
            // quantity; more than is in stock is kept and flagged.
            let made = try await guest.request(
                .POST,
                "/api/v1/carts",
                json:
                    #"{"lines":[{"product_id":\#(kettle),"quantity":1},{"product_id":\#(mug),"quantity":2},{"product_id":\#(kettle),"quantity":3}]}"#
            )
            #expect(made.status == 201)
            let lines = made.json?["data"]?["lines"]?.array ?? []
            #expect(lines.map { $0["product_id"]?.integer } == [kettle, mug])
            #expect(lines.map { $0["quantity"]?.integer } == [3, 2])
            #expect(lines.first?["problem"]?.string == "insufficient_stock")
            #expect(made.json?["data"]?["subtotal"]?["amount"]?.integer == 2500)
            let token = try #require(made.json?["data"]?["cart_token"]?.string)
            let read = try await guest.request(.GET, "/api/v1/cart", headers: [("X-Cart-Token", token)])
            #expect(read.json?["data"]?["lines"] == made.json?["data"]?["lines"])

            // An empty body, or no lines, is an empty cart, as before.
            let empty = try await guest.request(.POST, "/api/v1/carts", json: #"{"lines":[]}"#)
            #expect(empty.status == 201)
            #expect(empty.json?["data"]?["lines"]?.array?.isEmpty == true)

            // Refused whole: nothing is made for any of these.
            let unknown = try await guest.request(
                .POST,
                "/api/v1/carts",
                json: #"{"lines":[{"product_id":\#(mug),"quantity":1},{"product_id":987654,"quantity":1}]}"#
            )
            #expect(unknown.status == 404)
            let mixed = try await guest.request(
                .POST,
                "/api/v1/carts",
                json: #"{"lines":[{"product_id":\#(mug),"quantity":1},{"product_id":\#(dollars),"quantity":1}]}"#
            )
            #expect(mixed.status == 409)
            _ = try await admin.request(.POST, "/api/v1/products/\(kettle)/archive")
            #expect(try await guest.request(.POST, "/api/v1/carts", json: #"{"lines":[{"product_id":\#(kettle),"quantity":1}]}"#).status == 409)

            let invalid = try await guest.request(
                .POST,
                "/api/v1/carts",
                json: #"{"lines":[{"product_id":0,"quantity":1},{"product_id":\#(mug),"quantity":100}]}"#
            )
            #expect(invalid.status == 422)
            let fields = Set((invalid.json?["errors"]?.array ?? []).compactMap { $0["field"]?.string })
            #expect(fields == ["lines[0].product_id", "lines[1].quantity"])
            let tooMany = (1...51).map { #"{"product_id":\#($0),"quantity":1}"# }.joined(separator: ",")
            let crowded = try await guest.request(.POST, "/api/v1/carts", json: #"{"lines":[\#(tooMany)]}"#)
            #expect(crowded.status == 422)
            #expect(crowded.json?["errors"]?.array?.first?["field"]?.string == "lines")
            let stray = try await guest.request(.POST, "/api/v1/carts", json: #"{"lines":[{"product_id":\#(mug),"quantity":1,"colour":"red"}]}"#)
            #expect(stray.status == 422)
            #expect(stray.json?["errors"]?.array?.first?["field"]?.string == "lines[0].colour")
            let null = try await guest.request(.POST, "/api/v1/carts", json: #"{"lines":null}"#)
            #expect(null.status == 422)
            #expect(null.json?["errors"]?.array?.first?["field"]?.string == "lines")
            #expect(try await guest.request(.POST, "/api/v1/carts", json: "[1,2]").status == 400)
            let huge = String(repeating: " ", count: 17 * 1024)
            #expect(try await guest.request(.POST, "/api/v1/carts", json: "{\(huge)}").status == 413)
        }
    }
}
