public import Foundation
public import ServiceContract

/// The body of `POST /api/v1/reports`: a sales report of the days `from` to `to`, both
/// included (`YYYY-MM-DD`, UTC), at most 366 days.
public struct ReportRequest: JSONRequestBody, Encodable, Hashable {
    public var from: String?
    public var to: String?

    public init(from: String, to: String) {
        self.from = from
        self.to = to
    }

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case from, to
    }
}

/// A sales report: built in the background, then downloadable as two CSV files.
public struct ReportResource: Codable, Sendable, Hashable {
    public enum Status: String, Codable, Sendable, Hashable, CaseIterable {
        /// Waiting for the worker.
        case queued
        /// Being built.
        case running
        /// Built: `downloads` name the files.
        case done
        /// Given up after repeated failures; `error` says why.
        case failed
    }

    /// Where the files of a finished report are fetched (as staff).
    public struct Downloads: Codable, Sendable, Hashable {
        /// Per day and currency: orders, units, gross, refunded, net.
        public var daily: String
        /// The 100 best-selling products by units, per currency.
        public var topProducts: String

        public init(daily: String, topProducts: String) {
            self.daily = daily
            self.topProducts = topProducts
        }

        enum CodingKeys: String, CodingKey {
            case daily
            case topProducts = "top_products"
        }
    }

    public var id: String
    public var status: Status
    public var from: String
    public var to: String
    /// Orders counted (sold: confirmed, shipped, delivered, refunded in part or whole).
    public var orders: Int?
    public var downloads: Downloads?
    public var error: String?
    public var createdAt: Date
    public var completedAt: Date?

    public init(
        id: String,
        status: Status,
        from: String,
        to: String,
        orders: Int?,
        downloads: Downloads?,
        error: String?,
        createdAt: Date,
        completedAt: Date?
    ) {
        self.id = id
        self.status = status
        self.from = from
        self.to = to
        self.orders = orders
        self.downloads = downloads
        self.error = error
        self.createdAt = createdAt
        self.completedAt = completedAt
    }

    enum CodingKeys: String, CodingKey {
        case id, status, from, to, orders, downloads, error
        case createdAt = "created_at"
        case completedAt = "completed_at"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(status, forKey: .status)
        try container.encode(from, forKey: .from)
        try container.encode(to, forKey: .to)
        try container.encode(orders, forKey: .orders)
        try container.encode(downloads, forKey: .downloads)
        try container.encode(error, forKey: .error)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(completedAt, forKey: .completedAt)
    }
}
