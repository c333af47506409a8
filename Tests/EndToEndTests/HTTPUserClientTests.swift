import Foundation
import Platform
import Testing
import UserAPI

/// The Users client other services will use, against the real server over HTTP.
@Suite struct HTTPUserClientTests {
    @Test func findsAUserAndAnswersNilForAnUnknownOne() async throws {
        try await TestServer.with { shop in
            let id = try await shop.createUser("client@example.com", name: "Client")
            let token = shop.token
            // A generous timeout: the whole suite shares two cores with this server.
            let client = HTTPUserClient(baseURL: shop.baseURL, timeout: .seconds(15), requestID: { "from-orders-1" }, bearerToken: { token })
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

    @Test func aFailingServiceOpensTheBreakerAndNoMissingUserDoes() async throws {
        let missing = try CannedHTTPServer(status: "404 Not Found", body: #"{"error":{"code":"NOT_FOUND","message":"No such user"}}"#)
        defer { missing.stop() }
        let failing = try CannedHTTPServer(status: "500 Internal Server Error", body: "")
        defer { failing.stop() }
        let configuration = CircuitBreaker.Configuration(failureThreshold: 2, openDuration: .seconds(3600))
        let healthy = HTTPUserClient(
            baseURL: "http://127.0.0.1:\(missing.port)",
            breaker: CircuitBreaker(name: "users", configuration: configuration)
        )
        let broken = HTTPUserClient(baseURL: "http://127.0.0.1:\(failing.port)", breaker: CircuitBreaker(name: "users", configuration: configuration))

        for _ in 1...3 { #expect(try await healthy.user(id: 1) == nil) }
        for _ in 1...4 { await #expect(throws: UserClientError.self) { try await broken.user(id: 1) } }

        #expect(healthy.breaker.state == .closed && missing.requests == 3)
        #expect(broken.breaker.state == .open && failing.requests == 2, "calls after the threshold never left the client")
    }
}
