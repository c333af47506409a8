import Platform

/// Who may do what to a user: the Users service's one statement of its access rules.
///
/// Customers reach only themselves, and another user's id looks like a missing one so
/// that ids cannot be probed. Staff read everyone; only admins change others or roles.
enum UserAccess {
    enum Action: Sendable {
        case read
        case change
        case delete
        case changeRole
        /// Only the user themselves, who must know the current password.
        case changePassword
    }

    /// Throws ``UserError/notFound(id:)`` or ``UserError/forbidden(field:)`` when
    /// `principal` may not do `action` to the user with `target`.
    static func check(_ principal: Principal, _ action: Action, target: Int64) throws(UserError) {
        if action == .changeRole {
            guard principal.role == .admin else { throw .forbidden(field: "role") }
            return
        }
        guard principal.userID != target else { return }
        if action == .changePassword {
            throw principal.role == .customer ? .notFound(id: target) : .forbidden(field: nil)
        }
        switch principal.role {
        case .admin:
            return
        case .staff:
            if action != .read { throw .forbidden(field: nil) }
        case .customer:
            throw .notFound(id: target)
        }
    }

    /// The role a new account gets when `creator` (or nobody) asks for `requested`.
    static func roleForNewUser(requested: Role?, creator: Principal?) throws(UserError) -> Role {
        guard let requested, requested != .customer else { return .customer }
        guard creator?.role == .admin else { throw .forbidden(field: "role") }
        return requested
    }
}
