/// What a caller may do, as carried in the `role` claim of an access token (`API.md`).
public enum Role: String, Sendable, Codable, CaseIterable, Comparable {
    /// Their own data only.
    case customer
    /// Catalog, inventory and orders.
    case staff
    /// Everything, user management included.
    case admin

    /// Staff and admins act for the shop rather than for themselves.
    public var isStaff: Bool { self != .customer }

    private var rank: Int {
        switch self {
        case .customer: 0
        case .staff: 1
        case .admin: 2
        }
    }

    public static func < (lhs: Role, rhs: Role) -> Bool { lhs.rank < rhs.rank }
}

/// The authenticated caller of a request, from a verified access token.
public struct Principal: Sendable, Hashable {
    /// The id of the user the token was issued to (`sub`).
    public let userID: Int64
    public let role: Role
    /// The token's id (`jti`), for logs and revocation lists.
    public let tokenID: String
    /// When the token was issued (`iat`), in seconds since 1970 with milliseconds.
    public let issuedAt: Double

    public init(userID: Int64, role: Role, tokenID: String, issuedAt: Double = 0) {
        self.userID = userID
        self.role = role
        self.tokenID = tokenID
        self.issuedAt = issuedAt
    }
}
