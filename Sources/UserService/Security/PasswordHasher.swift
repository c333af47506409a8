import Crypto
import Foundation
import HummingbirdBcrypt
import NIOPosix

/// Hashes and checks passwords with bcrypt, off the cooperative thread pool.
///
/// A password is first reduced to base64(SHA-256(password)), 44 ASCII characters, so
/// that every one of its up to 128 characters counts: bcrypt alone reads only 72 bytes.
struct PasswordHasher: Sendable {
    /// The bcrypt cost (work factor 2^cost): 12 by default.
    let cost: UInt8
    /// A hash of nothing anyone knows, checked when the email is unknown so that a failed
    /// login costs the same whether or not the account exists.
    private let decoy: String

    init(cost: UInt8) {
        self.cost = cost
        self.decoy = Bcrypt.hash(Self.prepared(UUID().uuidString), cost: cost)
    }

    func hash(_ password: Password) async throws -> String {
        let cost = self.cost
        return try await NIOThreadPool.singleton.runIfActive {
            Bcrypt.hash(Self.prepared(password.value), cost: cost)
        }
    }

    /// Whether `password` matches `hash`; with no hash, the same work and `false`.
    func verify(_ password: String, against hash: String?) async throws -> Bool {
        let decoy = self.decoy
        return try await NIOThreadPool.singleton.runIfActive {
            let matches = Bcrypt.verify(Self.prepared(password), hash: hash ?? decoy)
            return hash != nil && matches
        }
    }

    private static func prepared(_ password: String) -> String {
        Data(SHA256.hash(data: Data(password.utf8))).base64EncodedString()
    }
}
