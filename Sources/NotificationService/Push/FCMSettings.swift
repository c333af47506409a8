import Foundation
import Platform

/// Where and as whom ``FCMPushSender`` sends: a service account, the Firebase project, the
/// API's address and how long one exchange may take.
///
/// Both the API's address and the account's token endpoint must be `https`, since one
/// receives access tokens and the other signed requests for them; plain `http` is allowed
/// only to a loopback address (`localhost`, `127.x.y.z`, `::1`), for a local stand-in.
struct FCMSettings: Sendable, CustomStringConvertible {
    static let defaultBaseURL = "https://fcm.googleapis.com"

    let serviceAccount: ServiceAccount
    /// The Firebase project the messages are sent from: the service account's unless told otherwise.
    let projectID: String
    /// The API's scheme, host and optional path prefix, without a trailing slash.
    let baseURL: String
    /// How long each exchange (getting a token, sending a message) may take.
    let timeout: Duration

    /// - Throws: ``InvalidValue`` when an address is not an absolute `http(s)` URL, is `http`
    ///   to a host that is not a loopback address, or has a query or fragment; when the
    ///   project id is empty or has characters that do not belong in a URL path; when the
    ///   timeout is not positive.
    init(
        serviceAccount: ServiceAccount,
        projectID: String? = nil,
        baseURL: String = FCMSettings.defaultBaseURL,
        timeout: Duration = .seconds(10)
    ) throws(InvalidValue) {
        try Self.checkAddress(baseURL, named: "The FCM base URL")
        try Self.checkAddress(serviceAccount.tokenURI, named: "The service account's token_uri")
        let projectID = projectID ?? serviceAccount.projectID
        guard !projectID.isEmpty, projectID.unicodeScalars.allSatisfy({ Self.projectIDCharacters.contains($0) }) else {
            throw InvalidValue("The FCM project id must be letters, digits, -, _, . or :, not \"\(projectID)\"")
        }
        guard timeout > .zero else { throw InvalidValue("The FCM timeout must be positive, not \(timeout)") }
        self.serviceAccount = serviceAccount
        self.projectID = projectID
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.timeout = timeout
    }

    /// Where a message is posted.
    var sendURL: String { "\(baseURL)/v1/projects/\(projectID)/messages:send" }

    var description: String { "FCM project \(projectID) at \(baseURL) as \(serviceAccount), timeout \(timeout)" }

    /// Whether `host` is `localhost`, `::1` or `127.x.y.z`; no other name is resolved to find out.
    static func isLoopback(_ host: String) -> Bool {
        let host = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if host.lowercased() == "localhost" || host == "::1" { return true }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
    }

    private static let projectIDCharacters = CharacterSet(
        charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:"
    )

    private static func checkAddress(_ address: String, named name: String) throws(InvalidValue) {
        guard let components = URLComponents(string: address), let scheme = components.scheme?.lowercased(),
            scheme == "https" || scheme == "http", let host = components.host, !host.isEmpty
        else { throw InvalidValue("\(name) must be an absolute https URL, not \"\(address)\"") }
        guard components.query == nil, components.fragment == nil, components.user == nil else {
            throw InvalidValue("\(name) must not have credentials, a query or a fragment")
        }
        guard scheme == "https" || isLoopback(host) else {
            throw InvalidValue("\(name) must use https unless its host is a loopback address, not \"\(address)\"")
        }
    }
}
