import Crypto
import Foundation

/// The Standard Webhooks signature (https://www.standardwebhooks.com/): how we sign a
/// delivery, and how a receiver checks it.
///
/// Every delivery carries `webhook-id` (the message id, the same on every retry),
/// `webhook-timestamp` (Unix seconds) and `webhook-signature`: `v1,` followed by the
/// base64 of HMAC-SHA256 over `"<id>.<timestamp>.<body>"`. Users see the secret as
/// `whsec_` and the base64 of its bytes; the decoded bytes are the HMAC key.
struct WebhookSignature: Sendable {
    /// Why a secret or a signature was refused. The messages never contain the secret.
    enum Failure: Error, Sendable, Equatable, CustomStringConvertible {
        case malformedSecret(String)
        case missingHeader(String)
        case malformedTimestamp
        case timestampOutsideTolerance
        case noMatchingSignature

        var description: String {
            switch self {
            case .malformedSecret(let why): "The webhook secret is malformed: \(why)"
            case .missingHeader(let name): "The \(name) header is missing"
            case .malformedTimestamp: "The webhook-timestamp header is not a whole number of seconds"
            case .timestampOutsideTolerance: "The webhook-timestamp is too far from now"
            case .noMatchingSignature: "No v1 signature matches the message"
            }
        }
    }

    static let secretPrefix = "whsec_"
    static let idHeader = "webhook-id"
    static let timestampHeader = "webhook-timestamp"
    static let signatureHeader = "webhook-signature"
    /// How far a receiver lets a timestamp be from its clock, as the specification suggests.
    static let defaultTolerance: Duration = .seconds(5 * 60)
    /// The key sizes the specification allows.
    static let keySizes = 24...64

    private let key: SymmetricKey

    /// A new secret of 32 random bytes, in its `whsec_` form.
    static func generateSecret() -> String {
        let key = SymmetricKey(size: .bits256)
        return secretPrefix + key.withUnsafeBytes { Data($0).base64EncodedString() }
    }

    /// - Throws: ``Failure/malformedSecret(_:)`` unless `secret` is `whsec_` followed by the
    ///   base64 of 24 to 64 bytes.
    init(secret: String) throws(Failure) {
        guard secret.hasPrefix(Self.secretPrefix) else { throw .malformedSecret("it must start with \(Self.secretPrefix)") }
        var encoded = String(secret.dropFirst(Self.secretPrefix.count))
        // Secrets are sometimes copied without their base64 padding; the reference
        // implementation accepts them, so do we.
        if encoded.count % 4 != 0 { encoded += String(repeating: "=", count: 4 - encoded.count % 4) }
        guard let bytes = Data(base64Encoded: encoded) else { throw .malformedSecret("the part after \(Self.secretPrefix) is not base64") }
        guard Self.keySizes.contains(bytes.count) else {
            throw .malformedSecret("it must hold \(Self.keySizes.lowerBound) to \(Self.keySizes.upperBound) bytes")
        }
        key = SymmetricKey(data: bytes)
    }

    /// The `webhook-signature` header value for the message `id` sent at `timestamp`.
    func sign(id: String, timestamp: Int64, body: [UInt8]) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: Self.signedContent(id: id, timestamp: timestamp, body: body), using: key)
        return "v1," + Data(code).base64EncodedString()
    }

    /// Checks a delivery as a receiver does: the timestamp within `tolerance` of `now`, and
    /// at least one `v1` signature of the space-separated list (a sender rolling its secret
    /// sends one per secret) matching, compared in constant time.
    func verify(
        id: String?,
        timestamp: String?,
        signature: String?,
        body: [UInt8],
        now: Date,
        tolerance: Duration = defaultTolerance
    ) throws(Failure) {
        guard let id, !id.isEmpty else { throw .missingHeader(Self.idHeader) }
        guard let timestamp, !timestamp.isEmpty else { throw .missingHeader(Self.timestampHeader) }
        guard let signature, !signature.isEmpty else { throw .missingHeader(Self.signatureHeader) }
        guard let seconds = Int64(timestamp) else { throw .malformedTimestamp }
        guard abs(now.timeIntervalSince1970 - Double(seconds)) <= Double(tolerance.components.seconds) else {
            throw .timestampOutsideTolerance
        }
        let content = Self.signedContent(id: id, timestamp: seconds, body: body)
        for candidate in signature.split(separator: " ") {
            let parts = candidate.split(separator: ",", maxSplits: 1)
            guard parts.count == 2, parts[0] == "v1", let code = Data(base64Encoded: String(parts[1])) else { continue }
            if HMAC<SHA256>.isValidAuthenticationCode(code, authenticating: content, using: key) { return }
        }
        throw .noMatchingSignature
    }

    private static func signedContent(id: String, timestamp: Int64, body: [UInt8]) -> [UInt8] {
        Array("\(id).\(timestamp).".utf8) + body
    }
}
