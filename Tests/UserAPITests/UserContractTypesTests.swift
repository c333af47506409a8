import Foundation
import Platform
import Testing
import UserAPI

@Suite struct UserContractTypesTests {
    @Test func aUserEncodesWithSnakeCaseKeysAndUTCTimestamps() throws {
        let user = UserResource(
            id: 42,
            email: "ada@example.com",
            name: "Ada",
            role: "customer",
            createdAt: Date(timeIntervalSince1970: 1_795_601_700),
            updatedAt: Date(timeIntervalSince1970: 1_795_601_760)
        )
        let json = String(decoding: try JSONResponse.makeEncoder().encode(user), as: UTF8.self)
        #expect(json.contains(#""created_at":"2026-11-25T10:15:00Z""#))
        #expect(json.contains(#""updated_at":"2026-11-25T10:16:00Z""#))
        #expect(!json.contains("createdAt"))
    }

    @Test func aCreateRequestRejectsFieldsThatAreNotInTheContract() {
        #expect(throws: APIError([Problem(.validationError, "Unknown field", field: "is_admin")])) {
            try JSONBody.decode(CreateUserRequest.self, from: Data(#"{"email":"a@b.co","name":"A","password":"x","is_admin":true}"#.utf8))
        }
    }

    @Test func anUpdateRequestKeepsAbsentApartFromNull() throws {
        let update = try JSONBody.decode(UpdateUserRequest.self, from: Data(#"{"name":null}"#.utf8))
        guard case .absent = update.email, case .null = update.name else {
            Issue.record("got \(update.email) and \(update.name)")
            return
        }
    }
}
