import HTTPTypes
import Hummingbird
import HummingbirdCore
import Platform
import Testing

private enum Field: String, SortField {
    case createdAt = "created_at"
    case price
}

@Suite struct PaginationTests {
    private func parse(_ query: String) throws(APIError) -> ListQuery<Field> {
        try ListQuery<Field>.parse(URI("/items?\(query)"), filters: ["email"], defaultSort: SortOrder(.createdAt))
    }

    private func fields(_ query: String) -> [String?] {
        do {
            _ = try parse(query)
            Issue.record("expected \(query) to be refused")
            return []
        } catch {
            #expect(error.problems.allSatisfy { $0.code == .validationError })
            return error.problems.map(\.field)
        }
    }

    @Test func defaultsToTheFirstPageOfTwenty() throws {
        let query = try parse("")
        #expect(query.pagination == .page(number: 1, perPage: 20))
        #expect(query.sort == SortOrder(.createdAt))
    }

    @Test func readsPageSortAndFilters() throws {
        let query = try parse("page=3&per_page=100&sort=-price&email=a%40b.co")
        #expect(query.pagination == .page(number: 3, perPage: 100))
        #expect(query.sort == SortOrder(.price, descending: true))
        #expect(query.filters["email"] == "a@b.co")
    }

    @Test(arguments: ["page=0", "page=-1", "page=x", "page=1000001"])
    func pagesOutOfRangeAreRefused(_ query: String) {
        #expect(fields(query) == ["page"])
    }

    @Test(arguments: ["per_page=0", "per_page=101", "per_page=ten"])
    func pageSizesOutOfRangeAreRefused(_ query: String) {
        #expect(fields(query) == ["per_page"])
    }

    @Test func everyProblemIsReportedAtOnce() {
        #expect(fields("page=0&per_page=500&sort=name&colour=red") == ["colour", "per_page", "sort", "page"])
    }

    @Test func unknownSortFieldsAreRefused() {
        #expect(fields("sort=password") == ["sort"])
        #expect(fields("sort=--price") == ["sort"])
    }

    @Test func pageAndCursorTogetherAreRefused() {
        #expect(fields("page=1&cursor=") == ["cursor"])
    }

    @Test func cursorsRoundTripAndStayTiedToTheirSort() throws {
        let cursor = Cursor(sort: "-price", values: ["1999", "42"])
        #expect(Cursor(token: cursor.token) == cursor)
        #expect(!cursor.token.contains("="))
        let query = try parse("sort=-price&cursor=\(cursor.token)")
        #expect(query.pagination == .cursor(cursor, perPage: 20))
        #expect(fields("sort=price&cursor=\(cursor.token)") == ["cursor"])
        #expect(fields("cursor=garbage!") == ["cursor"])
    }

    @Test func anEmptyCursorStartsAtTheBeginning() throws {
        #expect(try parse("cursor=&per_page=5").pagination == .cursor(nil, perPage: 5))
    }

    @Test func pageMetaCountsPages() {
        #expect(PageMeta(page: 1, perPage: 20, total: 0).totalPages == 0)
        #expect(PageMeta(page: 1, perPage: 20, total: 20).totalPages == 1)
        #expect(PageMeta(page: 1, perPage: 20, total: 21).totalPages == 2)
    }

    @Test func linksKeepOtherParametersAndReplaceThePage() throws {
        let page = ListPage<Int>.page(items: [1], number: 2, perPage: 1, total: 3)
        let response = try page.response(for: URI("/items?sort=-price&page=2&per_page=1")) { $0 }
        let link = try #require(response.headers[.link])
        #expect(link == #"</items?sort=-price&per_page=1&page=3>; rel="next", </items?sort=-price&per_page=1&page=1>; rel="prev""#)
    }
}
