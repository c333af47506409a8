/// What other services may ask of the Users service.
///
/// The in-process implementation lives in `UserService`; an HTTP implementation joins it
/// when a service first needs users from another process.
public protocol UserClient: Sendable {
    /// The user with `id`, or `nil` when there is none (or it was deleted).
    func user(id: Int64) async throws -> UserResource?
}
