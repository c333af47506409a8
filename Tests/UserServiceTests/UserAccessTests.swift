import Platform
import Testing

@testable import UserService

/// The access rules of the Users service, without I/O.
@Suite struct UserAccessTests {
    let customer = Principal(userID: 1, role: .customer, tokenID: "c")
    let staff = Principal(userID: 2, role: .staff, tokenID: "s")
    let admin = Principal(userID: 3, role: .admin, tokenID: "a")

    @Test func everyoneReachesThemselves() throws {
        for principal in [customer, staff, admin] {
            for action in [UserAccess.Action.read, .change, .delete, .changePassword] {
                try UserAccess.check(principal, action, target: principal.userID)
            }
        }
    }

    @Test func aCustomerAskingForAnotherUserSeesNothingThere() {
        for action in [UserAccess.Action.read, .change, .delete, .changePassword] {
            #expect(throws: UserError.notFound(id: 99)) { try UserAccess.check(customer, action, target: 99) }
        }
    }

    @Test func staffReadOthersButChangeNobodyElse() throws {
        try UserAccess.check(staff, .read, target: 99)
        for action in [UserAccess.Action.change, .delete, .changePassword] {
            #expect(throws: UserError.forbidden(field: nil)) { try UserAccess.check(staff, action, target: 99) }
        }
    }

    @Test func onlyAnAdminChangesOthersAndRoles() throws {
        for action in [UserAccess.Action.read, .change, .delete, .changeRole] {
            try UserAccess.check(admin, action, target: 99)
        }
        #expect(throws: UserError.forbidden(field: nil)) { try UserAccess.check(admin, .changePassword, target: 99) }
        #expect(throws: UserError.forbidden(field: "role")) { try UserAccess.check(staff, .changeRole, target: staff.userID) }
        #expect(throws: UserError.forbidden(field: "role")) { try UserAccess.check(customer, .changeRole, target: customer.userID) }
    }

    @Test func newAccountsAreCustomersUnlessAnAdminSaysOtherwise() throws {
        #expect(try UserAccess.roleForNewUser(requested: nil, creator: nil) == .customer)
        #expect(try UserAccess.roleForNewUser(requested: .customer, creator: nil) == .customer)
        #expect(throws: UserError.forbidden(field: "role")) { try UserAccess.roleForNewUser(requested: .admin, creator: nil) }
        #expect(throws: UserError.forbidden(field: "role")) { try UserAccess.roleForNewUser(requested: .staff, creator: staff) }
        #expect(try UserAccess.roleForNewUser(requested: .staff, creator: admin) == .staff)
    }

    @Test func passwordsHaveALengthPolicyAndNeverPrintThemselves() throws {
        #expect(throws: InvalidValue("Must be at least 8 characters")) { try Password("short") }
        #expect(throws: InvalidValue("Must be at most 128 characters")) { try Password(String(repeating: "p", count: 129)) }
        #expect(throws: InvalidValue("Must not be only spaces")) { try Password("          ") }
        let password = try Password(String(repeating: "é", count: 128))
        #expect("\(password)" == "<password>")
        #expect(String(reflecting: password) == "<password>")
    }

    @Test func languageTagsAreChecked() throws {
        for good in ["en", "de-CH", "zh-Hant-TW", "gsw"] { _ = try LanguageTag(good) }
        for bad in ["", "e", "english", "en_US", "de-", "12", "en-toolongsubtag"] {
            #expect(throws: InvalidValue.self, "\(bad)") { try LanguageTag(bad) }
        }
    }
}
