import Foundation

/// `redis://[user:password@]host[:port][/database]`.
public struct RedisURL: Sendable, Hashable {
    public var host: String
    public var port: Int
    public var username: String?
    public var password: String?
    public var database: Int

    public init(host: String, port: Int = 6379, username: String? = nil, password: String? = nil, database: Int = 0) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
    }

    /// Parses `string`; the error says what is wrong, fit to follow a variable's name.
    public init(_ string: String) throws(RedisURLError) {
        guard let components = URLComponents(string: string), components.scheme == "redis" else {
            throw RedisURLError(reason: "must be a redis:// URL")
        }
        guard let host = components.host, !host.isEmpty else { throw RedisURLError(reason: "has no host") }
        let path = components.path.drop(while: { $0 == "/" })
        var database = 0
        if !path.isEmpty {
            guard let number = Int(path), (0...15).contains(number) else {
                throw RedisURLError(reason: "database must be a number from 0 to 15")
            }
            database = number
        }
        self.init(
            host: host,
            port: components.port ?? 6379,
            username: components.user.flatMap { $0.isEmpty ? nil : $0.removingPercentEncoding },
            password: components.password?.removingPercentEncoding,
            database: database
        )
    }
}

/// A Redis URL that cannot be used.
public struct RedisURLError: Error, Sendable, Hashable {
    public var reason: String
}
