/// Why a webhook URL was refused, in words for the person who registered it.
///
/// At registration it becomes a 422 on the `url` field; at send time a refused address is
/// a permanent failure, and a host that does not resolve a transient one.
struct WebhookAddressError: Error, Sendable, Equatable, CustomStringConvertible {
    enum Reason: Sendable, Equatable {
        /// Not an absolute `http(s)` URL with a host we can read.
        case malformed
        /// `http://` where only `https://` is allowed.
        case insecureScheme
        /// A user name or password in the URL.
        case credentialsInURL
        /// An IPv4 address written other than as four decimal numbers (`0x7f.1`, `2130706433`).
        case unusualIPv4Spelling
        /// The host is, or resolves to, an address the public internet cannot reach.
        case nonPublicAddress
        /// The host name does not resolve (now).
        case unresolvable
    }

    let reason: Reason
    let message: String

    /// Whether the same URL may pass later: only a failed resolution may.
    var isTemporary: Bool { reason == .unresolvable }

    var description: String { message }

    static func malformed(_ message: String) -> WebhookAddressError { WebhookAddressError(reason: .malformed, message: message) }
}
