import Foundation
import Platform
import Testing

@testable import UserService

@Suite struct UserDomainTests {
    @Test(arguments: ["ada@example.com", "Ada.Lovelace+shop@Mail.Example.CO.uk", "a@b.io", "x_y-z'@sub-domain.example.org"])
    func validEmailsAreAccepted(_ raw: String) throws {
        let email = try EmailAddress(raw)
        #expect(email.value == raw)
        #expect(email.normalized == raw.lowercased())
    }

    @Test(arguments: [
        "", "plain", "@example.com", "ada@", "ada@@example.com", "ada@example", "ada@-example.com",
        "ada@example-.com", ".ada@example.com", "ada.@example.com", "a..da@example.com", "ada @example.com",
        "ada@exa mple.com", "ada@example.c0m", "adä@example.com", "ada@example.c",
        String(repeating: "a", count: 65) + "@example.com",
        "ada@" + String(repeating: "a", count: 250) + ".com",
    ])
    func invalidEmailsAreRefused(_ raw: String) {
        #expect(throws: InvalidValue.self) { try EmailAddress(raw) }
    }

    @Test func emailsAreTrimmedAndComparedWithoutCase() throws {
        let one = try EmailAddress("  Ada@Example.com ")
        let two = try EmailAddress("ada@example.COM")
        #expect(one.value == "Ada@Example.com")
        #expect(one.normalized == two.normalized)
    }

    @Test func namesAreTrimmedAndBounded() throws {
        #expect(try PersonName("  Ada Lovelace ").value == "Ada Lovelace")
        #expect(try PersonName(String(repeating: "é", count: 100)).value.count == 100)
        #expect(throws: InvalidValue("Must not be empty")) { try PersonName("   ") }
        #expect(throws: InvalidValue.self) { try PersonName(String(repeating: "x", count: 101)) }
        #expect(throws: InvalidValue.self) { try PersonName("Ada\u{0007}") }
    }

    @Test func changesThatAlterNothingKeepTheUpdateTime() throws {
        let created = Date(timeIntervalSince1970: 1_000)
        let user = User(
            id: 1,
            email: try EmailAddress("ada@example.com"),
            name: try PersonName("Ada"),
            role: .customer,
            createdAt: created,
            updatedAt: created
        )
        let later = Date(timeIntervalSince1970: 2_000)
        #expect(UserChanges(name: try PersonName("Ada")).applied(to: user, at: later).updatedAt == created)
        let renamed = UserChanges(name: try PersonName("Ada L.")).applied(to: user, at: later)
        #expect(renamed.name.value == "Ada L.")
        #expect(renamed.updatedAt == later)
        #expect(renamed.createdAt == created)
    }
}
