import Foundation
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Which URLs a webhook may be sent to: the guard against server-side request forgery.
///
/// A user's URL must be `https://` (plain `http://` only where ``allowsInsecureHTTP``), carry
/// no user name or password, and lead only to public internet addresses: a literal address
/// is judged as written (odd IPv4 spellings such as `0x7f.1` or `2130706433` are refused
/// outright), a name by every address it resolves to. Tests and development set
/// ``allowsPrivateNetworks`` to reach servers on loopback.
///
/// What this covers, and what it does not:
/// - DNS rebinding: ``check(_:)`` returns the checked address, and ``WebhookSender``
///   connects to that address and no other (AsyncHTTPClient's `dnsOverride`), while TLS
///   still sends the name as SNI and verifies the certificate against it. A name that
///   resolves to a public address when checked and to a private one when connecting cannot
///   slip through, because nothing resolves it a second time. The check runs again at every
///   send, so an endpoint whose name later points inside is refused then.
/// - Redirects are never followed (the sender's job), so a public server cannot bounce the
///   request inward.
/// - Not covered: a public address that itself forwards inward (an open proxy, a NAT we do
///   not know of), and networks whose "public" ranges are in fact internal to us; a firewall
///   rule for the sending process's egress is the complement to this check.
struct WebhookAddressPolicy: Sendable {
    /// Looks up every address of a host name.
    typealias Resolver = @Sendable (String) async throws(WebhookAddressError) -> [IPAddress]

    /// Where a URL that passed the check leads.
    struct Destination: Sendable, Equatable {
        /// The host as the HTTP client reads it from the URL (no brackets): the name for the
        /// `Host` header, SNI and certificate verification.
        let host: String
        /// The checked address: connect to it and no other.
        let address: IPAddress
        /// Whether the URL names the address itself, so nothing was resolved.
        let hostIsAddress: Bool
    }

    /// Production: `https://` to public addresses only.
    static let production = WebhookAddressPolicy(allowsPrivateNetworks: false, allowsInsecureHTTP: false)
    /// Development and tests: receivers on loopback or the local network, over plain HTTP.
    static let development = WebhookAddressPolicy(allowsPrivateNetworks: true, allowsInsecureHTTP: true)

    static let maximumURLLength = 2048

    /// Whether loopback, private, link-local and other non-public addresses are allowed.
    let allowsPrivateNetworks: Bool
    /// Whether `http://` is allowed besides `https://`.
    let allowsInsecureHTTP: Bool
    private let resolve: Resolver

    init(allowsPrivateNetworks: Bool, allowsInsecureHTTP: Bool, resolver: @escaping Resolver = Self.resolveWithSystem) {
        self.allowsPrivateNetworks = allowsPrivateNetworks
        self.allowsInsecureHTTP = allowsInsecureHTTP
        self.resolve = resolver
    }

    /// Checks `url` and returns where it leads.
    ///
    /// - Throws: ``WebhookAddressError`` saying what is wrong, in words for the user.
    func check(_ url: String) async throws(WebhookAddressError) -> Destination {
        guard url.utf8.count <= Self.maximumURLLength else {
            throw .malformed("The URL is longer than \(Self.maximumURLLength) characters")
        }
        guard let components = URLComponents(string: url), let parsed = URL(string: url) else {
            throw .malformed("The URL is not a valid URL")
        }
        guard let scheme = components.scheme?.lowercased(), scheme == "https" || scheme == "http" else {
            throw .malformed("The URL must start with https://")
        }
        guard scheme == "https" || allowsInsecureHTTP else {
            throw WebhookAddressError(reason: .insecureScheme, message: "The URL must use https://, not http://")
        }
        guard components.user == nil, components.password == nil else {
            throw WebhookAddressError(
                reason: .credentialsInURL,
                message: "The URL must not contain a user name or password; every delivery is signed instead"
            )
        }
        guard let encodedHost = components.percentEncodedHost, !encodedHost.isEmpty, let readHost = parsed.host, !readHost.isEmpty
        else { throw .malformed("The URL has no host") }
        // Percent-encoded hosts and IPv6 zones are spelled differently by every parser.
        guard !encodedHost.contains("%") else { throw .malformed("The host must be written without percent-encoding or an IPv6 zone") }
        if let port = components.port, !(1...65535).contains(port) { throw .malformed("The port must be between 1 and 65535") }

        if encodedHost.hasPrefix("[") {
            let host = readHost.hasPrefix("[") ? String(readHost.dropFirst().dropLast()) : readHost
            guard let address = IPAddress(host), !address.isIPv4 else { throw .malformed("The host \(encodedHost) is not an IPv6 address") }
            try admit(address, named: host)
            return Destination(host: host, address: address, hostIsAddress: true)
        }
        switch IPAddress.numericHost(readHost) {
        case .invalid:
            throw .malformed("The host \(readHost) is neither a host name nor an IPv4 address")
        case .address(let address):
            guard address.description == readHost else {
                throw WebhookAddressError(
                    reason: .unusualIPv4Spelling,
                    message: "The host \(readHost) is the IPv4 address \(address) written unusually; write it as \(address)"
                )
            }
            try admit(address, named: readHost)
            return Destination(host: readHost, address: address, hostIsAddress: true)
        case .name:
            break
        }
        guard readHost.unicodeScalars.allSatisfy(Self.isHostNameCharacter) else {
            throw .malformed("The host \(readHost) is not a valid host name (write international names in their xn-- form)")
        }
        let addresses = try await resolve(readHost)
        guard !addresses.isEmpty else {
            throw WebhookAddressError(reason: .unresolvable, message: "The host \(readHost) does not resolve to any address")
        }
        for address in addresses { try admit(address, named: readHost) }
        // One address is pinned, so there is no fallback between families: IPv4, which every
        // sending host can route, is preferred.
        let pinned = addresses.first(where: \.isIPv4) ?? addresses[0]
        return Destination(host: readHost, address: pinned, hostIsAddress: false)
    }

    private func admit(_ address: IPAddress, named host: String) throws(WebhookAddressError) {
        guard !allowsPrivateNetworks, let range = address.nonPublicRange else { return }
        let subject = host == address.description ? "The address \(host) is" : "The host \(host) resolves to \(address), which is"
        throw WebhookAddressError(
            reason: .nonPublicAddress,
            message: "\(subject) in the \(range) range; webhooks are sent only to public internet addresses"
        )
    }

    private static func isHostNameCharacter(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9", "-", ".", "_": true
        default: false
        }
    }
}

extension WebhookAddressPolicy {
    /// Every address `getaddrinfo` gives for `host`, looked up on NIO's blocking-work pool so
    /// that no cooperative thread waits on DNS.
    @Sendable static func resolveWithSystem(_ host: String) async throws(WebhookAddressError) -> [IPAddress] {
        let outcome: Result<[IPAddress], WebhookAddressError>
        do {
            outcome = try await NIOThreadPool.singleton.runIfActive { lookUp(host) }
        } catch {
            throw WebhookAddressError(reason: .unresolvable, message: "The host \(host) could not be resolved now")
        }
        return try outcome.get()
    }

    private static func lookUp(_ host: String) -> Result<[IPAddress], WebhookAddressError> {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Darwin)
        hints.ai_socktype = SOCK_STREAM
        #else
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, nil, &hints, &list)
        defer { if let list { freeaddrinfo(list) } }
        guard status == 0 else {
            let message =
                status == EAI_NONAME
                ? "The host \(host) does not resolve to any address"
                : "The host \(host) could not be resolved now (\(String(cString: gai_strerror(status))))"
            return .failure(WebhookAddressError(reason: .unresolvable, message: message))
        }
        var addresses: [IPAddress] = []
        var cursor = list
        while let entry = cursor?.pointee {
            cursor = entry.ai_next
            guard let socketAddress = entry.ai_addr else { continue }
            let found: IPAddress?
            switch entry.ai_family {
            case AF_INET:
                found = socketAddress.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { pointer in
                    var raw = pointer.pointee.sin_addr
                    return IPAddress(bytes: withUnsafeBytes(of: &raw) { Array($0) })
                }
            case AF_INET6:
                found = socketAddress.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                    var raw = pointer.pointee.sin6_addr
                    return IPAddress(bytes: withUnsafeBytes(of: &raw) { Array($0) })
                }
            default:
                found = nil
            }
            if let found, !addresses.contains(found) { addresses.append(found) }
        }
        return .success(addresses)
    }
}
