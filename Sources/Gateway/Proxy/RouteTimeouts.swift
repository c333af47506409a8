import Foundation
public import Platform

/// How long the gateway waits for an upstream instance to start answering, by route: a
/// read that has not answered in seconds is stuck, while an image upload streams its body
/// first and may take minutes. Past it the instance is set aside, and a request safe to
/// repeat goes to another.
public struct RouteTimeouts: Sendable, Hashable {
    /// GET and HEAD.
    public var reads: Duration
    /// Every other method.
    public var writes: Duration
    /// By route (`POST /api/v1/products/{id}/images`: the method and the document's path),
    /// before the two above.
    public var routes: [String: Duration]

    /// An upload streams to Products before it answers.
    public static let builtIn: [String: Duration] = ["POST /api/v1/products/{id}/images": .seconds(120)]

    public init(reads: Duration = .seconds(10), writes: Duration = .seconds(30), routes: [String: Duration] = RouteTimeouts.builtIn) {
        self.reads = reads
        self.writes = writes
        self.routes = routes
    }

    /// The same timeout for everything.
    public static func uniform(_ timeout: Duration) -> RouteTimeouts {
        RouteTimeouts(reads: timeout, writes: timeout, routes: [:])
    }

    public func timeout(for route: GatewayRouteTable.Route) -> Duration {
        if let own = routes["\(route.method.rawValue) \(route.path)"] { return own }
        return route.method == .get || route.method == .head ? reads : writes
    }

    /// The longest any route waits (the proxy client's read timeout must allow it).
    public var longest: Duration { routes.values.reduce(max(reads, writes), max) }

    /// Reads `METHOD /path=seconds` entries separated by commas, such as
    /// `GET /api/v1/products=5,POST /api/v1/orders=20`.
    public static func parse(_ text: String) throws(InvalidValue) -> [String: Duration] {
        var routes: [String: Duration] = [:]
        for entry in text.split(separator: ",") {
            let parts = entry.split(separator: "=", omittingEmptySubsequences: false)
            let route = parts.first.map { $0.split(separator: " ", omittingEmptySubsequences: true) } ?? []
            guard parts.count == 2, route.count == 2, route[1].hasPrefix("/"),
                let seconds = Int(parts[1].trimmingCharacters(in: .whitespaces)), (1...3600).contains(seconds)
            else {
                throw InvalidValue("must be entries like 'GET /api/v1/products=5' (seconds from 1 to 3600), comma-separated; got '\(entry)'")
            }
            routes["\(route[0].uppercased()) \(route[1])"] = .seconds(seconds)
        }
        return routes
    }

    /// Refuses an entry that names no route of `table`, so a typo cannot pass unnoticed.
    public func check(against table: GatewayRouteTable) throws(InvalidValue) {
        let known = Set(table.routes.map { "\($0.method.rawValue) \($0.path)" })
        for route in routes.keys.sorted() where !known.contains(route) {
            throw InvalidValue("names \(route), which is not a route of the API")
        }
    }
}
