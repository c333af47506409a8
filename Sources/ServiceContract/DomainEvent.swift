/// A typed event of a service's contract (in its `XxxAPI` module).
public protocol DomainEvent: Codable, Sendable {
    /// The CloudEvents `type`, e.g. `user.registered`.
    static var type: String { get }
}
