import Foundation
import Platform

/// A registered user.
struct User: Sendable, Hashable {
    let id: Int64
    var email: EmailAddress
    var name: PersonName
    var role: Role
    let createdAt: Date
    var updatedAt: Date
}

/// What it takes to register a user.
struct NewUser: Sendable, Hashable {
    var email: EmailAddress
    var name: PersonName
    var role: Role = .customer
}

/// A partial update of a user: `nil` leaves a field as it is.
struct UserChanges: Sendable, Hashable {
    var email: EmailAddress?
    var name: PersonName?
    var role: Role?

    var isEmpty: Bool { email == nil && name == nil && role == nil }

    /// `user` with these changes applied at `now`; unchanged (same `updatedAt`) when the
    /// changes alter nothing.
    func applied(to user: User, at now: Date) -> User {
        var changed = user
        if let email { changed.email = email }
        if let name { changed.name = name }
        if let role { changed.role = role }
        if changed != user { changed.updatedAt = now }
        return changed
    }
}

/// How a list of users is sorted.
enum UserSortField: String, CaseIterable, Sendable {
    case createdAt = "created_at"
}

/// The rules of the Users domain that a request can break.
enum UserError: Error, Hashable {
    case notFound(id: Int64)
    case emailTaken
    /// The caller's role may not do this to this user.
    case forbidden(field: String?)
    /// A login with an unknown email or a wrong password: the two look the same.
    case invalidCredentials
    /// The current password given to change it is wrong.
    case wrongCurrentPassword
    /// A refresh token that is unknown, expired, revoked or already used.
    case invalidRefreshToken
}
