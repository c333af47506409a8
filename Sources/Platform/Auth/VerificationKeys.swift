import Crypto
import Foundation
import Synchronization

/// The public keys access tokens are verified with, by `kid`: those of the signing keys a
/// process holds, or those another one publishes as a JSON Web Key Set and that are
/// replaced when it changes (``replace(with:)``). A service that only verifies never
/// holds a key that can sign.
public final class VerificationKeys: Sendable {
    private struct State {
        var keys: [String: P256.Signing.PublicKey]
        var jwks: JSONWebKeySet
    }

    private let state: Mutex<State>
    /// Told the `kid` of a token whose key is not known (a key rotated in since the set was
    /// read): a set that is fetched asks again.
    private let onUnknownKey: Mutex<(@Sendable (String) -> Void)?> = Mutex(nil)

    /// The public halves of `signing`.
    public init(_ signing: SigningKeySet) {
        let jwks = signing.jwks
        state = Mutex(State(keys: Dictionary(signing.keys.map { ($0.id, $0.publicKey) }) { first, _ in first }, jwks: jwks))
    }

    /// None yet: every token is refused until ``replace(with:)``.
    public init() {
        state = Mutex(State(keys: [:], jwks: JSONWebKeySet(keys: [])))
    }

    public var isEmpty: Bool { state.withLock { $0.keys.isEmpty } }

    /// The set as served at `/.well-known/jwks.json`.
    public var jwks: JSONWebKeySet { state.withLock { $0.jwks } }

    func key(id: String) -> P256.Signing.PublicKey? {
        if let key = state.withLock({ $0.keys[id] }) { return key }
        onUnknownKey.withLock { $0 }?(id)
        return nil
    }

    /// Uses `set`'s keys from now on; throws, keeping the current keys, when a key of it
    /// is not an ES256 public key (P-256, `x` and `y` of 32 bytes each).
    public func replace(with set: JSONWebKeySet) throws(InvalidValue) {
        var keys: [String: P256.Signing.PublicKey] = [:]
        for key in set.keys {
            guard key.kty == "EC", key.crv == "P-256", key.alg == AccessTokens.algorithm, !key.kid.isEmpty,
                let x = Base64URL.decode(key.x), let y = Base64URL.decode(key.y), x.count == 32, y.count == 32,
                let publicKey = try? P256.Signing.PublicKey(x963Representation: Data([0x04]) + x + y)
            else { throw InvalidValue("key \(key.kid) is not an ES256 public key") }
            keys[key.kid] = publicKey
        }
        guard !keys.isEmpty else { throw InvalidValue("the key set is empty") }
        state.withLock { $0 = State(keys: keys, jwks: set) }
    }

    /// Calls `react` with the `kid` of each token whose key is not known.
    public func whenUnknown(_ react: @escaping @Sendable (String) -> Void) {
        onUnknownKey.withLock { $0 = react }
    }
}
