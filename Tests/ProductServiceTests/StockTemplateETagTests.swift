import Testing

@testable import ProductService

/// A list's `ETag` made from its template's digest and the live counts: the same answer
/// gets the same tag on every instance, any change of the page or a count another.
@Suite struct StockTemplateETagTests {
    private func template(_ text: String, _ ids: [Int64]) throws -> StockTemplate {
        let marker = String(decoding: StockTemplate.marker, as: UTF8.self)
        let encoded = Array(ids.map { "{\"id\":\($0),\(marker)}" }.joined(separator: ",").utf8) + Array(text.utf8)
        return try #require(StockTemplate(encoded: encoded, productIDs: ids))
    }

    @Test func theTagFollowsThePageAndEveryCount() throws {
        let page = try template("page 1", [1, 2, 3])
        let counts: [Int64: Int] = [1: 5, 2: 0, 3: 12]
        // Another instance building the same page tags the same answer the same way.
        #expect(page.etag(with: counts) == (try template("page 1", [1, 2, 3])).etag(with: counts))
        #expect(page.etag(with: counts).hasPrefix("\"") && page.etag(with: counts).count == 34)
        // A count that moves, one that goes missing (shown as 0 either way), another page.
        #expect(page.etag(with: [1: 5, 2: 0, 3: 11]) != page.etag(with: counts))
        #expect(page.etag(with: [1: 5, 3: 12]) == page.etag(with: counts), "a missing count is shown as 0, so tagged as 0")
        #expect((try template("page 2", [1, 2, 3])).etag(with: counts) != page.etag(with: counts))
        #expect((try template("page 1", [1, 3, 2])).etag(with: [1: 5, 2: 12, 3: 0]) != page.etag(with: counts))
        // Counts that would run together if not separated.
        let two = try template("x", [1, 2])
        #expect(two.etag(with: [1: 11, 2: 1]) != two.etag(with: [1: 1, 2: 11]))
    }
}
