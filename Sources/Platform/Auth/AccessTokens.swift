import Crypto
public import Foundation
import HTTPTypes
import Synchronization

/// Short-lived access tokens: JWTs signed with ES256 (`API.md`).
///
/// Issuing and verifying share one set of rules, so the two can never disagree on
/// what a valid token is.
public struct AccessTokens: Sendable {
    /// The only `alg` accepted: pinned, so `none` and HMAC-confusion tokens fail.
    public static let algorithm = "ES256"

    /// The keys it signs with; `nil` in a process that only verifies.
    public let keys: SigningKeySet?
    /// The keys it verifies with.
    public let verification: VerificationKeys
    /// `iss`: who issues the tokens.
    public let issuer: String
    /// `aud`: who the tokens are for.
    public let audience: String
    /// How long a token lives: 15 minutes by default.
    public let lifetime: Duration
    /// Clock skew tolerated on `exp` and `iat`.
    public let leeway: Duration
    /// Tokens already verified, so a client's every request does not pay for ECDSA again.
    private let verified = VerifiedTokenCache(capacity: 10_000)

    /// Issues with `keys` (the first signs) and verifies with their public halves.
    public init(
        keys: SigningKeySet,
        issuer: String = "shop",
        audience: String = "shop-api",
        lifetime: Duration = .seconds(900),
        leeway: Duration = .seconds(30)
    ) {
        self.init(signing: keys, verification: VerificationKeys(keys), issuer: issuer, audience: audience, lifetime: lifetime, leeway: leeway)
    }

    /// Only verifies, with `verification` (a key set fetched from the issuer's JWKS).
    public init(
        verifyingWith verification: VerificationKeys,
        issuer: String = "shop",
        audience: String = "shop-api",
        lifetime: Duration = .seconds(900),
        leeway: Duration = .seconds(30)
    ) {
        self.init(signing: nil, verification: verification, issuer: issuer, audience: audience, lifetime: lifetime, leeway: leeway)
    }

    private init(
        signing: SigningKeySet?,
        verification: VerificationKeys,
        issuer: String,
        audience: String,
        lifetime: Duration,
        leeway: Duration
    ) {
        self.keys = signing
        self.verification = verification
        self.issuer = issuer
        self.audience = audience
        self.lifetime = lifetime
        self.leeway = leeway
    }

    /// A signed access token for `userID` acting as `role`, valid from `now` for ``lifetime``.
    public func issue(userID: Int64, role: Role, now: Date) throws -> IssuedAccessToken {
        guard let keys else { throw CannotIssue() }
        // `iat` stays whole seconds, as every verifier expects; `iat_ms` tells a token
        // issued just after a user's sessions ended from one issued just before.
        let issuedMillis = Int64((now.timeIntervalSince1970 * 1000).rounded(.down))
        let issuedAt = issuedMillis / 1000
        let expires = issuedAt + lifetime.components.seconds
        let claims = AccessTokenClaims(
            sub: String(userID),
            role: role.rawValue,
            iat: issuedAt,
            exp: expires,
            jti: UUID().uuidString.lowercased(),
            iss: issuer,
            aud: audience,
            iatMillis: issuedMillis
        )
        let header = Header(alg: Self.algorithm, typ: "JWT", kid: keys.current.id)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let signingInput = Base64URL.encode(try encoder.encode(header)) + "." + Base64URL.encode(try encoder.encode(claims))
        let signature = try keys.current.privateKey.signature(for: Data(signingInput.utf8))
        let token = signingInput + "." + Base64URL.encode(signature.rawRepresentation)
        return IssuedAccessToken(token: token, expiresIn: Int(lifetime.components.seconds))
    }

    /// The caller a bearer token proves, or ``InvalidAccessToken`` saying why not.
    ///
    /// A token verified before is answered from memory until it expires: the cache
    /// holds exactly the strings that passed every check, so it cannot admit a token
    /// that would fail them.
    public func verify(_ token: String, now: Date) throws(InvalidAccessToken) -> Principal {
        let skew = Double(leeway.components.seconds)
        if let principal = verified.principal(for: token, at: now.timeIntervalSince1970, skew: skew) {
            return principal
        }
        let (principal, issued, expires) = try verifyUncached(token, now: now)
        verified.remember(token, principal: principal, issued: issued, expires: expires)
        return principal
    }

    private func verifyUncached(_ token: String, now: Date) throws(InvalidAccessToken) -> (Principal, issued: Double, expires: Double) {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3,
            let headerBytes = Base64URL.decode(parts[0]),
            let claimBytes = Base64URL.decode(parts[1]),
            let signatureBytes = Base64URL.decode(parts[2])
        else { throw .malformed }
        guard let header = try? JSONTapeDecoder.decode(Header.self, from: headerBytes) else { throw .malformed }
        guard header.alg == Self.algorithm else { throw .unsupportedAlgorithm }
        guard let kid = header.kid, let key = verification.key(id: kid) else { throw .unknownKey }
        guard let claims = try? JSONTapeDecoder.decode(AccessTokenClaims.self, from: claimBytes),
            let userID = Int64(claims.sub), userID > 0,
            let role = Role(rawValue: claims.role)
        else { throw .malformed }
        // Expiry before the signature: a token that says it has expired is refused whether
        // or not it is genuine, and refusing it costs no ECDSA verification (the dearest
        // step, which a flood of old tokens would otherwise buy one of per request). Nothing
        // else is believed before the signature is checked.
        let seconds = now.timeIntervalSince1970
        let skew = Double(leeway.components.seconds)
        guard Double(claims.exp) + skew > seconds else { throw .expired }
        guard let signature = try? P256.Signing.ECDSASignature(rawRepresentation: signatureBytes),
            key.isValidSignature(signature, for: Data(token.utf8.prefix(parts[0].utf8.count + 1 + parts[1].utf8.count)))
        else { throw .badSignature }
        guard Double(claims.iat) - skew <= seconds else { throw .notYetValid }
        guard claims.iss == issuer else { throw .wrongIssuer }
        guard claims.aud == audience else { throw .wrongAudience }
        // A token without `iat_ms` (issued before it existed) counts from its `iat`.
        let issuedAt = claims.iatMillis.map { Double($0) / 1000 } ?? Double(claims.iat)
        return (Principal(userID: userID, role: role, tokenID: claims.jti, issuedAt: issuedAt), Double(claims.iat), Double(claims.exp))
    }

    private struct Header: Codable {
        var alg: String
        var typ: String?
        var kid: String?
    }
}

/// The registered and private claims of an access token.
/// A process that only verifies tokens was asked to issue one.
public struct CannotIssue: Error, CustomStringConvertible {
    public var description: String { "this process holds no signing key: only Users issues access tokens" }
}

public struct AccessTokenClaims: Sendable, Codable, Hashable {
    public var sub: String
    public var role: String
    public var iat: Int64
    public var exp: Int64
    public var jti: String
    public var iss: String
    public var aud: String
    /// When it was issued, in milliseconds since 1970 (private claim `iat_ms`); absent in
    /// tokens issued before it was added.
    public var iatMillis: Int64?

    public init(sub: String, role: String, iat: Int64, exp: Int64, jti: String, iss: String, aud: String, iatMillis: Int64? = nil) {
        self.sub = sub
        self.role = role
        self.iat = iat
        self.exp = exp
        self.jti = jti
        self.iss = iss
        self.aud = aud
        self.iatMillis = iatMillis
    }

    enum CodingKeys: String, CodingKey {
        case sub, role, iat, exp, jti, iss, aud
        case iatMillis = "iat_ms"
    }
}

/// A freshly signed access token.
public struct IssuedAccessToken: Sendable, Hashable {
    public let token: String
    /// Seconds until it expires.
    public let expiresIn: Int
}

/// Why a bearer token was refused. Clients only ever see `UNAUTHENTICATED`; the reason
/// is for logs.
public enum InvalidAccessToken: Error, Sendable, Hashable, APIErrorConvertible {
    case malformed
    case unsupportedAlgorithm
    case unknownKey
    case badSignature
    case expired
    case notYetValid
    case wrongIssuer
    case wrongAudience
    /// Issued before its user's sessions were ended (deleted, role or password changed).
    case revoked

    public var apiError: APIError {
        let message = self == .expired ? "The access token has expired" : "The access token is not valid"
        return APIError(
            .unauthenticated,
            message,
            headers: [.wwwAuthenticate: #"Bearer error="invalid_token""#]
        )
    }
}

/// Verified tokens and when they expire, bounded in size.
final class VerifiedTokenCache: Sendable {
    private struct Entry {
        let principal: Principal
        let issued: Double
        let expires: Double
    }

    private let entries = Mutex<[String: Entry]>([:])
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// The principal of `token` if it was verified and is still valid at `instant`,
    /// by the same `exp` and `iat` rules and clock skew as a full verification.
    func principal(for token: String, at instant: Double, skew: Double) -> Principal? {
        entries.withLock { entries in
            guard let entry = entries[token], entry.expires + skew > instant, entry.issued - skew <= instant else { return nil }
            return entry.principal
        }
    }

    func remember(_ token: String, principal: Principal, issued: Double, expires: Double) {
        entries.withLock { entries in
            if entries.count >= capacity {
                let now = Date().timeIntervalSince1970 - 60
                entries = entries.filter { $0.value.expires > now }
                if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            }
            entries[token] = Entry(principal: principal, issued: issued, expires: expires)
        }
    }
}
