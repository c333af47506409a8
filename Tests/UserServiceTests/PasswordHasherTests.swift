import Testing

@testable import UserService

@Suite struct PasswordHasherTests {
    let hasher = PasswordHasher(cost: 4)

    @Test func aHashVerifiesItsPasswordAndNoOther() async throws {
        let hash = try await hasher.hash(try Password("correct horse battery staple"))
        #expect(hash.hasPrefix("$2"))
        #expect(!hash.contains("correct horse"))
        #expect(try await hasher.verify("correct horse battery staple", against: hash))
        #expect(try await !hasher.verify("correct horse battery stapl", against: hash))
        #expect(try await !hasher.verify("correct horse battery staple", against: nil))
    }

    /// bcrypt alone reads 72 bytes; the pre-hash makes the rest of a long password count.
    @Test func everyCharacterOfALongPasswordCounts() async throws {
        let prefix = String(repeating: "a", count: 100)
        let hash = try await hasher.hash(try Password(prefix + "1"))
        #expect(try await !hasher.verify(prefix + "2", against: hash))
    }
}
