import Foundation

/// A PostgreSQL URL: `postgres://user:password@host:port/database?sslmode=require`.
public struct DatabaseURL: Sendable, Hashable {
    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String
    public var requireTLS: Bool

    /// Parses `string`, or throws ``InvalidValue`` naming what is wrong.
    public init(_ string: String) throws(InvalidValue) {
        guard let components = URLComponents(string: string),
            let scheme = components.scheme, ["postgres", "postgresql"].contains(scheme)
        else { throw InvalidValue("must be a postgres:// URL") }
        guard let host = components.host, !host.isEmpty else { throw InvalidValue("has no host") }
        guard let user = components.user, !user.isEmpty else { throw InvalidValue("has no user name") }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty else { throw InvalidValue("has no database name") }
        let sslMode = components.queryItems?.first { $0.name == "sslmode" }?.value ?? "disable"
        guard ["disable", "require"].contains(sslMode) else {
            throw InvalidValue("sslmode must be disable or require")
        }
        self.host = host
        self.port = components.port ?? 5432
        self.username = user.removingPercentEncoding ?? user
        self.password = components.password.map { $0.removingPercentEncoding ?? $0 }
        self.database = database
        self.requireTLS = sslMode == "require"
    }
}
