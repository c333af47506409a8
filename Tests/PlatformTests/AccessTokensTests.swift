import Crypto
import Foundation
import Platform
import Synchronization
import Testing

/// Access tokens: what is issued verifies, and every way of forging one fails.
@Suite struct AccessTokensTests {
    static let now = Date(timeIntervalSince1970: 1_795_601_700)
    let keys = SigningKeySet([SigningKey(P256.Signing.PrivateKey())])
    var tokens: AccessTokens { AccessTokens(keys: keys) }

    private func parts(_ token: String) throws -> (header: [String: Any], claims: [String: Any], signature: Substring) {
        let pieces = token.split(separator: ".")
        try #require(pieces.count == 3)
        let header = try JSONSerialization.jsonObject(with: try #require(Base64URL.decode(pieces[0]))) as? [String: Any]
        let claims = try JSONSerialization.jsonObject(with: try #require(Base64URL.decode(pieces[1]))) as? [String: Any]
        return (try #require(header), try #require(claims), pieces[2])
    }

    /// A token with `header` and `claims` as given, signed by `sign` over the signing input.
    private func forge(header: [String: Any], claims: [String: Any], sign: (Data) throws -> Data) throws -> String {
        let input =
            Base64URL.encode(try JSONSerialization.data(withJSONObject: header))
            + "." + Base64URL.encode(try JSONSerialization.data(withJSONObject: claims))
        return input + "." + Base64URL.encode(try sign(Data(input.utf8)))
    }

    @Test func anIssuedTokenVerifiesToItsCallerWithEveryClaim() throws {
        let issued = try tokens.issue(userID: 42, role: .staff, now: Self.now)
        #expect(issued.expiresIn == 900)
        let principal = try tokens.verify(issued.token, now: Self.now.addingTimeInterval(60))
        #expect(principal.userID == 42)
        #expect(principal.role == .staff)
        let (header, claims, _) = try parts(issued.token)
        #expect(header["alg"] as? String == "ES256")
        #expect(header["kid"] as? String == keys.current.id)
        #expect(claims["sub"] as? String == "42")
        #expect(claims["role"] as? String == "staff")
        #expect(claims["iss"] as? String == "shop")
        #expect(claims["aud"] as? String == "shop-api")
        #expect(claims["iat"] as? Int == 1_795_601_700)
        #expect(claims["exp"] as? Int == 1_795_601_700 + 900)
        #expect((claims["jti"] as? String)?.isEmpty == false)
        #expect(principal.tokenID == claims["jti"] as? String)
    }

    @Test func anExpiredTokenFailsOnceTheLeewayIsUsedUp() throws {
        let token = try tokens.issue(userID: 1, role: .customer, now: Self.now).token
        _ = try tokens.verify(token, now: Self.now.addingTimeInterval(900 + 29))
        #expect(throws: InvalidAccessToken.expired) { try tokens.verify(token, now: Self.now.addingTimeInterval(900 + 31)) }
        #expect(throws: InvalidAccessToken.notYetValid) { try tokens.verify(token, now: Self.now.addingTimeInterval(-120)) }
    }

    @Test func aTamperedClaimBreaksTheSignature() throws {
        let token = try tokens.issue(userID: 7, role: .customer, now: Self.now).token
        var (_, claims, signature) = try parts(token)
        claims["role"] = "admin"
        let pieces = token.split(separator: ".")
        let forged = pieces[0] + "." + Base64URL.encode(try JSONSerialization.data(withJSONObject: claims)) + "." + signature
        #expect(throws: InvalidAccessToken.badSignature) { try tokens.verify(String(forged), now: Self.now) }
        #expect(throws: InvalidAccessToken.malformed) { try tokens.verify("not.a.token!", now: Self.now) }
        #expect(throws: InvalidAccessToken.malformed) { try tokens.verify(String(token.dropLast(token.count / 2)), now: Self.now) }
    }

    /// A token that says it has expired is refused before its signature is checked: a flood
    /// of old or forged-and-old tokens buys no ECDSA verification. Anything not expired is
    /// believed only with a good signature.
    @Test func anExpiredClaimIsRefusedBeforeTheSignatureIsChecked() throws {
        let token = try tokens.issue(userID: 7, role: .customer, now: Self.now).token
        var (_, claims, signature) = try parts(token)
        claims["role"] = "admin"
        let pieces = token.split(separator: ".")
        let forged = String(pieces[0] + "." + Base64URL.encode(try JSONSerialization.data(withJSONObject: claims)) + "." + signature)
        #expect(throws: InvalidAccessToken.expired) { try tokens.verify(forged, now: Self.now.addingTimeInterval(3600)) }
        #expect(throws: InvalidAccessToken.badSignature) { try tokens.verify(forged, now: Self.now) }
        // Claims that say they are not yet valid are believed only once the signature holds.
        claims["iat"] = (claims["iat"] as? Int ?? 0) + 7200
        let early = String(pieces[0] + "." + Base64URL.encode(try JSONSerialization.data(withJSONObject: claims)) + "." + signature)
        #expect(throws: InvalidAccessToken.badSignature) { try tokens.verify(early, now: Self.now) }
    }

    @Test func algNoneAndHMACConfusionAreRefused() throws {
        let (header, claims, _) = try parts(try tokens.issue(userID: 7, role: .admin, now: Self.now).token)
        var none = header
        none["alg"] = "none"
        let unsigned = try forge(header: none, claims: claims) { _ in Data() }
        #expect(throws: InvalidAccessToken.unsupportedAlgorithm) { try tokens.verify(unsigned, now: Self.now) }
        // The classic confusion: HS256 keyed with the public key that anyone can fetch.
        var hmac = header
        hmac["alg"] = "HS256"
        let secret = SymmetricKey(data: keys.current.publicKey.x963Representation)
        let confused = try forge(header: hmac, claims: claims) { Data(HMAC<SHA256>.authenticationCode(for: $0, using: secret)) }
        #expect(throws: InvalidAccessToken.unsupportedAlgorithm) { try tokens.verify(confused, now: Self.now) }
    }

    @Test func anotherAudienceIssuerOrKeyIsRefused() throws {
        let elsewhere = AccessTokens(keys: keys, audience: "another-api")
        let token = try elsewhere.issue(userID: 1, role: .customer, now: Self.now).token
        #expect(throws: InvalidAccessToken.wrongAudience) { try tokens.verify(token, now: Self.now) }
        let foreign = AccessTokens(keys: keys, issuer: "someone-else")
        #expect(throws: InvalidAccessToken.wrongIssuer) {
            try tokens.verify(try foreign.issue(userID: 1, role: .customer, now: Self.now).token, now: Self.now)
        }
        let stranger = AccessTokens(keys: SigningKeySet([SigningKey(P256.Signing.PrivateKey())]))
        #expect(throws: InvalidAccessToken.unknownKey) {
            try tokens.verify(try stranger.issue(userID: 1, role: .customer, now: Self.now).token, now: Self.now)
        }
    }

    @Test func aRotatedKeySetStillVerifiesTokensOfTheOldKey() throws {
        let old = try tokens.issue(userID: 3, role: .customer, now: Self.now).token
        let rotated = AccessTokens(keys: SigningKeySet([SigningKey(P256.Signing.PrivateKey()), keys.current]))
        #expect(try rotated.verify(old, now: Self.now).userID == 3)
        let fresh = try rotated.issue(userID: 4, role: .customer, now: Self.now).token
        #expect(try parts(fresh).header["kid"] as? String == rotated.keys?.current.id)
        #expect(rotated.keys?.current.id != keys.current.id)
    }

    @Test func theKeySetReadsEveryPEMBlockAndPublishesTheirPublicHalves() throws {
        let first = P256.Signing.PrivateKey()
        let second = P256.Signing.PrivateKey()
        let set = try SigningKeySet(pem: first.pemRepresentation + "\n" + second.pemRepresentation)
        #expect(set.keys.map(\.id) == [SigningKey(first).id, SigningKey(second).id])
        let jwks = set.jwks.keys
        #expect(jwks.map(\.kid) == set.keys.map(\.id))
        #expect(jwks.allSatisfy { $0.kty == "EC" && $0.crv == "P-256" && $0.alg == "ES256" && $0.x.count == 43 && $0.y.count == 43 })
        let x = try #require(Base64URL.decode(jwks[0].x))
        #expect(x == first.publicKey.x963Representation.dropFirst().prefix(32))
        #expect(throws: InvalidValue.self) { try SigningKeySet(pem: "no key here") }
        #expect(throws: InvalidValue.self) {
            try SigningKeySet(pem: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----")
        }
    }

    @Test func accessPoliciesSayWhoGetsThrough() throws {
        let customer = Principal(userID: 1, role: .customer, tokenID: "t")
        let staff = Principal(userID: 2, role: .staff, tokenID: "t")
        #expect(try AccessPolicy.authenticated.check(customer) == customer)
        #expect(throws: APIError.authenticationRequired) { try AccessPolicy.authenticated.check(nil) }
        #expect(try AccessPolicy.roles(.staff, .admin).check(staff) == staff)
        #expect(throws: APIError(.forbidden, "Your role may not do this")) { try AccessPolicy.roles(.staff, .admin).check(customer) }
    }

    /// A process that only verifies holds the issuer's public keys, read from its JWKS: what
    /// the issuer signs verifies there, a key rotated in is asked for, and a set that is not
    /// ES256 public keys is refused without losing the keys in use.
    @Test func aVerifierWithTheIssuersKeySetAcceptsItsTokensAndCanIssueNone() throws {
        let verification = VerificationKeys()
        let verifier = AccessTokens(verifyingWith: verification)
        let issued = try tokens.issue(userID: 7, role: .customer, now: Self.now)
        #expect(throws: InvalidAccessToken.unknownKey) { try verifier.verify(issued.token, now: Self.now) }
        #expect(throws: CannotIssue.self) { try verifier.issue(userID: 7, role: .admin, now: Self.now) }

        let jwks = try JSONDecoder().decode(JSONWebKeySet.self, from: try JSONEncoder().encode(keys.jwks))
        try verification.replace(with: jwks)
        #expect(try verifier.verify(issued.token, now: Self.now).userID == 7)
        #expect(verification.jwks == keys.jwks)

        // Rotation: the issuer signs with a new key first; the verifier hears of its kid.
        let rotated = SigningKeySet([SigningKey(P256.Signing.PrivateKey())] + keys.keys)
        let fromRotated = try AccessTokens(keys: rotated).issue(userID: 8, role: .customer, now: Self.now)
        let asked = Mutex<[String]>([])
        verification.whenUnknown { kid in asked.withLock { $0.append(kid) } }
        #expect(throws: InvalidAccessToken.unknownKey) { try verifier.verify(fromRotated.token, now: Self.now) }
        #expect(asked.withLock { $0 } == [rotated.current.id])
        try verification.replace(with: rotated.jwks)
        #expect(try verifier.verify(fromRotated.token, now: Self.now).userID == 8)

        var wrong = rotated.jwks
        wrong.keys[0].crv = "P-384"
        var short = rotated.jwks
        short.keys[0].x = Base64URL.encode(Data(repeating: 1, count: 31))
        var offCurve = rotated.jwks
        offCurve.keys[0].y = Base64URL.encode(Data(repeating: 1, count: 32))
        var hmac = rotated.jwks
        hmac.keys[0].alg = "HS256"
        for set in [wrong, short, offCurve, hmac, JSONWebKeySet(keys: [])] {
            #expect(throws: InvalidValue.self) { try verification.replace(with: set) }
        }
        #expect(try verifier.verify(fromRotated.token, now: Self.now).userID == 8, "a refused set keeps the keys in use")
    }
}
