import Foundation
public import Platform

/// Where one instance of a service answers: `http(s)://host:port`, its public port, with
/// nothing after the authority.
public struct UpstreamAddress: Sendable, Hashable, CustomStringConvertible {
    public let scheme: String
    public let host: String
    public let port: Int

    /// Parses `http://host:port` (a trailing `/` is allowed); a path, a query, a fragment
    /// or credentials are refused, since the gateway appends the request's own path.
    public init(parsing raw: String) throws(InvalidValue) {
        let example = "must be http(s)://host:port such as http://users-1:8080"
        guard let components = URLComponents(string: raw), let scheme = components.scheme?.lowercased(),
            scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty
        else { throw InvalidValue("\(example), got '\(Self.redacted(raw))'") }
        guard components.user == nil, components.password == nil else {
            throw InvalidValue("must not carry credentials, got '\(Self.redacted(raw))'")
        }
        guard components.percentEncodedPath.isEmpty || components.percentEncodedPath == "/", components.query == nil,
            components.fragment == nil
        else { throw InvalidValue("\(example) without a path or query, got '\(raw)'") }
        self.scheme = scheme
        self.host = host
        self.port = components.port ?? (scheme == "https" ? 443 : 80)
    }

    /// Parses a comma-separated list of addresses; at least one, none twice.
    public static func list(parsing raw: String) throws(InvalidValue) -> [UpstreamAddress] {
        var addresses: [UpstreamAddress] = []
        for item in raw.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !item.isEmpty {
            let address = try UpstreamAddress(parsing: item)
            guard !addresses.contains(address) else { throw InvalidValue("names \(address) twice") }
            addresses.append(address)
        }
        guard !addresses.isEmpty else { throw InvalidValue("must name at least one http(s)://host:port") }
        return addresses
    }

    /// `http://host:port`, what requests are sent to and what metrics call the instance.
    public var description: String {
        let bracketed = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        return "\(scheme)://\(bracketed):\(port)"
    }

    /// `raw` with anything between `//` and `@` masked, for error messages that reach logs.
    private static func redacted(_ raw: String) -> String {
        guard let at = raw.lastIndex(of: "@") else { return raw }
        let start = raw.range(of: "//").map(\.upperBound) ?? raw.startIndex
        guard start <= at else { return "***" + raw[at...] }
        return raw[..<start] + "***" + raw[at...]
    }
}
