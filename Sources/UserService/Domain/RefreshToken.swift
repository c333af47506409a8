import Crypto
import Foundation
import Platform

/// An opaque refresh token: 256 random bits. Only its SHA-256 is stored, so a copy of
/// the database cannot be replayed as sessions.
struct RefreshToken: Sendable, Hashable {
    let value: String

    /// How long a refresh token lives when unused.
    static let lifetime: Duration = .seconds(30 * 24 * 3600)
    /// How long a session (a login and all its rotations) lives at most: rotating keeps it
    /// going until then, never longer, and then the user logs in again.
    static let familyLifetime: Duration = .seconds(90 * 24 * 3600)

    static func generate() -> RefreshToken {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return RefreshToken(value: Base64URL.encode(bytes))
    }

    init(value: String) {
        self.value = value
    }

    /// What the store keeps and looks up.
    var digest: String {
        Hexadecimal.encode(SHA256.hash(data: Data(value.utf8)))
    }
}
