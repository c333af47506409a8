public import Foundation

/// A user as the API shows it.
public struct UserResource: Codable, Sendable, Hashable {
    public var id: Int64
    public var email: String
    public var name: String
    public var createdAt: Date
    public var updatedAt: Date

    public init(id: Int64, email: String, name: String, createdAt: Date, updatedAt: Date) {
        self.id = id
        self.email = email
        self.name = name
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    enum CodingKeys: String, CodingKey {
        case id, email, name
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }
}
