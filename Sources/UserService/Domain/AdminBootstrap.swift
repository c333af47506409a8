import Platform

/// What `shop users create-admin` did, or why it did nothing.
enum AdminBootstrap: Sendable, Hashable {
    /// A new admin account.
    case created(User)
    /// An existing account made admin; every session it had ended.
    case promoted(User, previousRole: Role)
    /// The address belongs to an account, and promoting it was not asked for.
    case exists(User)
    /// No account has the address, and none can be made without a password.
    case needsPassword
}

/// The account `shop users create-admin` made admin, for the command to print.
public struct AdminAccount: Sendable, Hashable, CustomStringConvertible {
    public let userID: Int64
    public let email: String
    /// `nil` when the account was created; otherwise the role it had before (`admin`:
    /// nothing was changed).
    public let previousRole: Role?

    public var description: String {
        guard let previousRole else { return "created admin #\(userID) \(email)" }
        guard previousRole != .admin else { return "#\(userID) \(email) is already an admin; nothing changed" }
        return "promoted #\(userID) \(email) from \(previousRole.rawValue) to admin; every session it had has ended"
    }
}
