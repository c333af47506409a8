public import Crypto
import Foundation

/// One ES256 (ECDSA P-256, SHA-256) key pair with its key id.
public struct SigningKey: Sendable {
    public let privateKey: P256.Signing.PrivateKey
    /// The `kid`: derived from the public key, so every instance given the same key
    /// names it the same way.
    public let id: String

    public init(_ privateKey: P256.Signing.PrivateKey) {
        self.privateKey = privateKey
        let digest = SHA256.hash(data: privateKey.publicKey.x963Representation)
        self.id = Base64URL.encode(Array(digest).prefix(12))
    }

    public var publicKey: P256.Signing.PublicKey { privateKey.publicKey }
}

/// The keys a deployment signs and verifies access tokens with.
///
/// The first key signs; every key verifies, so a new key can be put first while tokens
/// signed by the old one are still alive, and the old one dropped after their lifetime.
public struct SigningKeySet: Sendable {
    public let keys: [SigningKey]

    /// - Precondition: `keys` is not empty.
    public init(_ keys: [SigningKey]) {
        precondition(!keys.isEmpty, "a key set needs a signing key")
        self.keys = keys
    }

    /// The key new tokens are signed with.
    public var current: SigningKey { keys[0] }

    /// Keys from PEM text holding one or more EC P-256 private keys (SEC1 or PKCS#8).
    public init(pem: String) throws(InvalidValue) {
        var keys: [SigningKey] = []
        for block in Self.pemBlocks(pem) {
            do {
                keys.append(SigningKey(try P256.Signing.PrivateKey(pemRepresentation: block)))
            } catch {
                throw InvalidValue("holds a PEM block that is not an EC P-256 private key")
            }
        }
        guard !keys.isEmpty else { throw InvalidValue("holds no PEM private key") }
        self.init(keys)
    }

    /// The key set in `path`; on the embedded default, one made and saved there on first
    /// use (readable by the owner only).
    public static func loadOrCreate(path: String) throws -> SigningKeySet {
        if FileManager.default.fileExists(atPath: path) {
            let pem = try String(contentsOfFile: path, encoding: .utf8)
            return try SigningKeySet(pem: pem)
        }
        let key = P256.Signing.PrivateKey()
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        guard
            FileManager.default.createFile(
                atPath: path,
                contents: Data(key.pemRepresentation.utf8),
                attributes: [.posixPermissions: 0o600]
            )
        else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path]) }
        return SigningKeySet([SigningKey(key)])
    }

    /// The public keys as a JSON Web Key Set (RFC 7517), for `/.well-known/jwks.json`.
    public var jwks: JSONWebKeySet {
        JSONWebKeySet(
            keys: keys.map { key in
                let point = key.publicKey.x963Representation  // 0x04 || X || Y
                return JSONWebKey(
                    kty: "EC",
                    crv: "P-256",
                    alg: AccessTokens.algorithm,
                    use: "sig",
                    kid: key.id,
                    x: Base64URL.encode(point.dropFirst().prefix(32)),
                    y: Base64URL.encode(point.suffix(32))
                )
            }
        )
    }

    private static func pemBlocks(_ text: String) -> [String] {
        var blocks: [String] = []
        var current: [Substring]?
        for line in text.split(whereSeparator: \.isNewline) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("-----BEGIN ") {
                current = [Substring(trimmed)]
            } else if trimmed.hasPrefix("-----END "), var lines = current {
                lines.append(Substring(trimmed))
                blocks.append(lines.joined(separator: "\n"))
                current = nil
            } else if current != nil {
                current!.append(Substring(trimmed))
            }
        }
        return blocks
    }
}

/// A JSON Web Key Set.
public struct JSONWebKeySet: Sendable, Codable, Hashable {
    public var keys: [JSONWebKey]

    public init(keys: [JSONWebKey]) {
        self.keys = keys
    }
}

/// A public EC key as a JSON Web Key.
public struct JSONWebKey: Sendable, Codable, Hashable {
    public var kty: String
    public var crv: String
    public var alg: String
    public var use: String
    public var kid: String
    public var x: String
    public var y: String
}
