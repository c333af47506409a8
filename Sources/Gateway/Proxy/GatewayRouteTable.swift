import Foundation
public import HTTPTypes
public import Platform

/// Which service serves each public route, for the gateway of services in other processes.
///
/// The routes are the operations of the OpenAPI document (plus those a service serves by
/// configuration, such as a payment provider's webhook); each belongs to the service that
/// declares the longest prefix of its path. The gateway answers its own (health, the
/// document, the signing keys, metrics); a route no service claims is a configuration
/// error, so a new route cannot be forgotten.
public struct GatewayRouteTable: Sendable {
    /// One route and the service that serves it.
    public struct Route: Sendable, Hashable, CustomStringConvertible {
        public let method: HTTPRequest.Method
        /// The document's template, such as `/api/v1/users/{id}`.
        public let path: String
        public let upstream: String

        public var description: String { "\(method.rawValue) \(path) → \(upstream)" }
    }

    /// What one service serves: the path prefixes it owns, and routes the document does not
    /// list that it may serve.
    public struct Owner: Sendable {
        public var upstream: String
        public var prefixes: [String]
        public var undocumented: [(method: HTTPRequest.Method, path: String)]

        public init(upstream: String, prefixes: [String], undocumented: [(method: HTTPRequest.Method, path: String)] = []) {
            self.upstream = upstream
            self.prefixes = prefixes
            self.undocumented = undocumented
        }
    }

    /// The paths the gateway answers itself.
    public static let ownPaths: Set<String> = ["/api/v1/openapi.json", "/health/live", "/health/ready", "/.well-known/jwks.json", "/metrics"]

    public let routes: [Route]

    /// - Throws: ``InvalidValue`` when the document cannot be read, a documented path has
    ///   no owner, or two services claim the same prefix.
    public init(document: [UInt8], owners: [Owner]) throws(InvalidValue) {
        var claimed: [String: String] = [:]
        for owner in owners {
            for prefix in owner.prefixes {
                let key = Self.shape(prefix)
                if let other = claimed[key], other != owner.upstream {
                    throw InvalidValue("\(prefix) is claimed by both \(other) and \(owner.upstream)")
                }
                claimed[key] = owner.upstream
            }
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(document)) as? [String: Any],
            let paths = object["paths"] as? [String: Any]
        else { throw InvalidValue("the OpenAPI document has no paths") }
        var routes: [Route] = []
        for (path, item) in paths.sorted(by: { $0.key < $1.key }) where !Self.ownPaths.contains(path) {
            guard let upstream = Self.owner(of: path, among: owners) else {
                throw InvalidValue("no service claims \(path): add its prefix to the service's public path prefixes")
            }
            let methods = (item as? [String: Any] ?? [:]).keys.filter { $0 != "parameters" }.sorted()
            for method in methods {
                guard let method = HTTPRequest.Method(method.uppercased()) else { throw InvalidValue("\(path) has method \(method)") }
                routes.append(Route(method: method, path: path, upstream: upstream))
            }
        }
        for owner in owners {
            for route in owner.undocumented {
                routes.append(Route(method: route.method, path: route.path, upstream: owner.upstream))
            }
        }
        self.routes = routes
    }

    /// The service whose longest prefix matches `path`, segment by segment; a parameter in
    /// a prefix matches any segment, and a parameter in `path` only a parameter.
    static func owner(of path: String, among owners: [Owner]) -> String? {
        let segments = Self.segments(path)
        var best: (length: Int, upstream: String)?
        for owner in owners {
            for prefix in owner.prefixes {
                let wanted = Self.segments(prefix)
                guard wanted.count <= segments.count, wanted.count > (best?.length ?? -1) else { continue }
                let matches = zip(wanted, segments).allSatisfy { wanted, segment in
                    wanted == nil || wanted == segment
                }
                if matches { best = (wanted.count, owner.upstream) }
            }
        }
        return best?.upstream
    }

    /// A template's segments, `nil` for each parameter.
    static func segments(_ path: String) -> [Substring?] {
        path.split(separator: "/").map { $0.hasPrefix("{") ? nil : $0 }
    }

    /// A template with every parameter unnamed, so `/users/{id}` and `/users/{user}` compare equal.
    public static func shape(_ path: String) -> String {
        "/" + segments(path).map { $0.map(String.init) ?? "{}" }.joined(separator: "/")
    }
}
