import Foundation
import Testing
import UserAPI

/// The Users client other services will use, against the real server over HTTP.
@Suite struct HTTPUserClientTests {
    @Test func findsAUserAndAnswersNilForAnUnknownOne() async throws {
        try await TestServer.with { shop in
            let id = try await shop.createUser("client@example.com", name: "Client")
            let token = shop.token
            let client = HTTPUserClient(baseURL: shop.baseURL, requestID: { "from-orders-1" }, bearerToken: { token })
            let user = try #require(try await client.user(id: id))
            #expect(user.id == id)
            #expect(user.email == "client@example.com")
            #expect(user.name == "Client")
            #expect(try await client.user(id: id + 1000) == nil)
        }
    }

    @Test func anUnreachableServiceIsUnavailableNotAHang() async throws {
        let client = HTTPUserClient(baseURL: "http://127.0.0.1:1", timeout: .seconds(1))
        await #expect(throws: UserClientError.self) { try await client.user(id: 1) }
    }
}
