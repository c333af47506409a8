import Foundation

/// A registered user.
struct User: Sendable, Hashable {
    let id: Int64
    var email: EmailAddress
    var name: PersonName
    let createdAt: Date
    var updatedAt: Date
}

/// What it takes to register a user.
struct NewUser: Sendable, Hashable {
    var email: EmailAddress
    var name: PersonName
}

/// A partial update of a user: `nil` leaves a field as it is.
struct UserChanges: Sendable, Hashable {
    var email: EmailAddress?
    var name: PersonName?

    var isEmpty: Bool { email == nil && name == nil }

    /// `user` with these changes applied at `now`; unchanged (same `updatedAt`) when the
    /// changes alter nothing.
    func applied(to user: User, at now: Date) -> User {
        var changed = user
        if let email { changed.email = email }
        if let name { changed.name = name }
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
}
