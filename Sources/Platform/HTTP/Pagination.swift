import Foundation
public import HTTPTypes
import Hummingbird
public import HummingbirdCore

/// A field a list can be sorted by: documented and indexed.
public protocol SortField: RawRepresentable<String>, CaseIterable, Sendable, Hashable {}

/// `?sort=created_at` (ascending) or `?sort=-created_at` (descending).
public struct SortOrder<Field: SortField>: Sendable, Hashable {
    public var field: Field
    public var descending: Bool

    public init(_ field: Field, descending: Bool = false) {
        self.field = field
        self.descending = descending
    }

    /// The value of the `sort` parameter that asks for this order.
    public var parameter: String { (descending ? "-" : "") + field.rawValue }

    init(parameter: String) throws(APIError) {
        let descending = parameter.hasPrefix("-")
        let name = descending ? String(parameter.dropFirst()) : parameter
        guard let field = Field(rawValue: name) else {
            let allowed = Field.allCases.map(\.rawValue).joined(separator: ", ")
            throw .validation("Cannot sort by '\(parameter)'; sort by one of: \(allowed) (prefix - for descending)", field: "sort")
        }
        self.init(field, descending: descending)
    }
}

/// How a client pages through a list.
public enum Pagination: Sendable, Hashable {
    /// Page style: `?page=1&per_page=20`, with totals.
    case page(number: Int, perPage: Int)
    /// Cursor style: `?cursor=...&per_page=20`; `nil` starts at the beginning (`?cursor=`).
    case cursor(Cursor?, perPage: Int)

    public static let defaultPerPage = 20
    public static let maxPerPage = 100

    public var perPage: Int {
        switch self {
        case .page(_, let perPage), .cursor(_, let perPage): perPage
        }
    }
}

/// An opaque position in a sorted list: the sort it belongs to and the key of the last
/// item seen. Clients see it as a base64url token and send it back unchanged.
public struct Cursor: Sendable, Hashable {
    public var sort: String
    public var values: [String]

    public init(sort: String, values: [String]) {
        self.sort = sort
        self.values = values
    }

    /// The token a client sees.
    public var token: String {
        let data = try! JSONEncoder().encode([sort] + values)
        return data.base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// Reads a token back; `nil` when it was not made by ``token``.
    public init?(token: String) {
        var base64 = token.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        guard token.count <= 512, let data = Data(base64Encoded: base64),
            let parts = try? JSONTapeDecoder.decode([String].self, from: data), let sort = parts.first
        else { return nil }
        self.init(sort: sort, values: Array(parts.dropFirst()))
    }
}

/// A parsed list request: pagination, sort, and the filters the endpoint documents.
///
/// Any other query parameter is rejected, so a typo cannot pass silently.
public struct ListQuery<Field: SortField>: Sendable, Hashable {
    public var pagination: Pagination
    public var sort: SortOrder<Field>
    public var filters: [String: String]

    public init(pagination: Pagination, sort: SortOrder<Field>, filters: [String: String] = [:]) {
        self.pagination = pagination
        self.sort = sort
        self.filters = filters
    }

    /// Reads `page`, `per_page`, `cursor`, `sort` and the allowed filters from `uri`,
    /// reporting every invalid parameter at once.
    public static func parse(
        _ uri: URI,
        filters allowedFilters: Set<String> = [],
        defaultSort: SortOrder<Field>
    ) throws(APIError) -> ListQuery {
        var validation = Validation()
        var values: [String: String] = [:]
        for (key, value) in uri.queryParameters {
            let key = String(key)
            guard values[key] == nil else {
                validation.invalid(key, "Is given more than once")
                continue
            }
            values[key] = String(value)
        }
        let known: Set<String> = ["page", "per_page", "cursor", "sort"]
        for key in values.keys.sorted() where !known.contains(key) && !allowedFilters.contains(key) {
            validation.invalid(key, "Unknown query parameter")
        }

        var perPage = Pagination.defaultPerPage
        if let raw = values["per_page"] {
            if let value = Int(raw), (1...Pagination.maxPerPage).contains(value) {
                perPage = value
            } else {
                validation.invalid("per_page", "Must be an integer from 1 to \(Pagination.maxPerPage)")
            }
        }
        var sort = defaultSort
        if let raw = values["sort"] {
            do {
                sort = try SortOrder(parameter: raw)
            } catch {
                validation.invalid("sort", error.main.message)
            }
        }
        var pagination = Pagination.page(number: 1, perPage: perPage)
        switch (values["page"], values["cursor"]) {
        case (.some, .some):
            validation.invalid("cursor", "Use either page or cursor, not both")
        case (.some(let raw), nil):
            if let page = Int(raw), page >= 1, page <= 1_000_000 {
                pagination = .page(number: page, perPage: perPage)
            } else {
                validation.invalid("page", "Must be an integer from 1 to 1000000")
            }
        case (nil, .some(let raw)):
            if raw.isEmpty {
                pagination = .cursor(nil, perPage: perPage)
            } else if let cursor = Cursor(token: raw), cursor.sort == sort.parameter {
                pagination = .cursor(cursor, perPage: perPage)
            } else {
                validation.invalid("cursor", "Is not a cursor this list gave for this sort order")
            }
        case (nil, nil):
            break
        }
        try validation.check()
        var filters: [String: String] = [:]
        for key in allowedFilters { filters[key] = values[key] }
        return ListQuery(pagination: pagination, sort: sort, filters: filters)
    }
}

/// `meta` of a page-style list.
public struct PageMeta: Codable, Sendable, Hashable {
    public var page: Int
    public var perPage: Int
    public var total: Int
    public var totalPages: Int

    public init(page: Int, perPage: Int, total: Int) {
        self.page = page
        self.perPage = perPage
        self.total = total
        self.totalPages = (total + perPage - 1) / perPage
    }

    enum CodingKeys: String, CodingKey {
        case page, total
        case perPage = "per_page"
        case totalPages = "total_pages"
    }
}

/// `meta` of a cursor-style list: `next_cursor` is `null` on the last page.
public struct CursorMeta: Codable, Sendable, Hashable {
    public var perPage: Int
    public var nextCursor: String?

    public init(perPage: Int, nextCursor: String?) {
        self.perPage = perPage
        self.nextCursor = nextCursor
    }

    enum CodingKeys: String, CodingKey {
        case perPage = "per_page"
        case nextCursor = "next_cursor"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(perPage, forKey: .perPage)
        try container.encode(nextCursor, forKey: .nextCursor)
    }
}

/// One page of a list, as a store returns it.
public enum ListPage<Item: Sendable>: Sendable {
    case page(items: [Item], number: Int, perPage: Int, total: Int)
    case cursor(items: [Item], perPage: Int, next: Cursor?)

    public var items: [Item] {
        switch self {
        case .page(let items, _, _, _), .cursor(let items, _, _): items
        }
    }

    /// The same page with its items made into `items` (one for one, in order): a store's
    /// rows become the resources shown, keeping the page's place and links.
    public func replacingItems<New: Sendable>(with items: [New]) -> ListPage<New> {
        precondition(items.count == self.items.count, "a page's items are replaced one for one")
        switch self {
        case .page(_, let number, let perPage, let total): return .page(items: items, number: number, perPage: perPage, total: total)
        case .cursor(_, let perPage, let next): return .cursor(items: items, perPage: perPage, next: next)
        }
    }

    /// The response: the items in the success envelope, `meta` of the style used, and a
    /// `Link` header (RFC 8288) to the next and previous pages where they exist.
    public func response<Resource: Encodable & Sendable>(
        for uri: URI,
        headers: HTTPFields = [:],
        _ transform: (Item) throws -> Resource
    ) throws -> Response {
        var headers = headers
        let data = try items.map(transform)
        headers[.link] = linkHeader(for: uri)
        switch self {
        case .page(_, let number, let perPage, let total):
            return try JSONResponse.success(data, meta: PageMeta(page: number, perPage: perPage, total: total), headers: headers)
        case .cursor(_, let perPage, let next):
            return try JSONResponse.success(data, meta: CursorMeta(perPage: perPage, nextCursor: next?.token), headers: headers)
        }
    }

    /// The `Link` header (RFC 8288) to the next and previous pages where they exist, built
    /// on the request's own query; nil when there are none.
    public func linkHeader(for uri: URI) -> String? {
        switch self {
        case .page(_, let number, let perPage, let total):
            let meta = PageMeta(page: number, perPage: perPage, total: total)
            var links: [String] = []
            if number < meta.totalPages {
                links.append(Self.link(uri, replacing: "page", with: String(number + 1), rel: "next"))
            }
            if number > 1 {
                links.append(Self.link(uri, replacing: "page", with: String(min(number - 1, max(meta.totalPages, 1))), rel: "prev"))
            }
            return links.isEmpty ? nil : links.joined(separator: ", ")
        case .cursor(_, _, let next):
            return next.map { Self.link(uri, replacing: "cursor", with: $0.token, rel: "next") }
        }
    }

    static func link(_ uri: URI, replacing name: String, with value: String, rel: String) -> String {
        var items: [(String, String)] = uri.queryParameters.map { (String($0.key), String($0.value)) }
        items.removeAll { $0.0 == name }
        items.append((name, value))
        let query = items.map { "\(encode($0.0))=\(encode($0.1))" }.joined(separator: "&")
        // Collapsed: a path that starts `//` would be read as another host.
        return "<\(RoutePath.collapsed(uri.path))?\(query)>; rel=\"\(rel)\""
    }

    /// `value` percent-encoded (a `CharacterSet` built per value was a tenth of a cached
    /// list page's CPU).
    private static func encode(_ value: String) -> String {
        PercentEncoding.encoded(value)
    }
}

extension HTTPField.Name {
    /// `Link` (RFC 8288).
    public static let link = HTTPField.Name("Link")!
}
