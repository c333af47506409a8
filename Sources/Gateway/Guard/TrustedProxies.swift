import Foundation
public import Platform

/// The peers whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed: addresses and
/// CIDR ranges, IPv4 or IPv6 (`10.0.0.7`, `10.0.0.0/8`, `fd00::/8`). Ranges matter where
/// proxies come and go, as an Ingress controller's pods do.
public struct TrustedProxies: Sendable, Hashable, ExpressibleByArrayLiteral {
    /// One range: the address's bytes (4 or 16) and how many leading bits must match.
    struct Network: Sendable, Hashable {
        let bytes: [UInt8]
        let prefix: Int
    }

    let networks: [Network]

    public static let none = TrustedProxies(networks: [])

    private init(networks: [Network]) {
        self.networks = networks
    }

    /// - Throws: ``InvalidValue`` naming the first entry that is no address or range.
    public init(_ entries: some Sequence<String>) throws(InvalidValue) {
        var networks: [Network] = []
        for entry in entries {
            let parts = entry.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count <= 2, let bytes = Self.bytes(of: String(parts[0])) else {
                throw InvalidValue("\"\(entry.prefix(100))\" is neither an IP address nor a CIDR range")
            }
            var prefix = bytes.count * 8
            if parts.count == 2 {
                guard parts[1].utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }), let bits = Int(parts[1]),
                    (0...bytes.count * 8).contains(bits)
                else {
                    throw InvalidValue("\"\(entry.prefix(100))\" has a prefix length out of range")
                }
                prefix = bits
            }
            networks.append(Network(bytes: bytes, prefix: prefix))
        }
        self.networks = networks
    }

    /// Exact addresses, for tests and code; an entry that does not parse stops the program.
    public init(arrayLiteral entries: String...) {
        do {
            try self.init(entries)
        } catch {
            preconditionFailure(error.reason)
        }
    }

    public var isEmpty: Bool { networks.isEmpty }

    /// Whether `address` (a peer or a hop of `X-Forwarded-For`) is in one of the ranges.
    /// Anything that is not an address is not trusted.
    public func contains(_ address: String) -> Bool {
        guard !networks.isEmpty, let bytes = Self.bytes(of: address) else { return false }
        return networks.contains { network in
            guard network.bytes.count == bytes.count else { return false }
            let whole = network.prefix / 8
            guard bytes[..<whole] == network.bytes[..<whole] else { return false }
            let rest = network.prefix % 8
            guard rest > 0 else { return true }
            let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - rest))
            return bytes[whole] & mask == network.bytes[whole] & mask
        }
    }

    /// The 4 or 16 bytes of an IPv4 or IPv6 address; an IPv4-mapped IPv6 address
    /// (`::ffff:10.0.0.7`, as a dual-stack listener reports IPv4 peers) gives its 4.
    static func bytes(of address: String) -> [UInt8]? {
        guard address.utf8.count <= 64, !address.isEmpty else { return nil }
        var v4 = in_addr()
        if inet_pton(AF_INET, address, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, address, &v6) == 1 else { return nil }
        let bytes = withUnsafeBytes(of: &v6) { Array($0) }
        if bytes[..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF {
            return Array(bytes[12...])
        }
        return bytes
    }
}
