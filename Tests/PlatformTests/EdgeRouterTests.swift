import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Platform
import Testing

private struct Broken: Error {}

private struct Echo: JSONRequestBody {
    var name: String?
    enum CodingKeys: String, CodingKey, CaseIterable { case name }
}

@Suite struct EdgeRouterTests {
    private func makeApp(healthy: Bool = true) -> some ApplicationProtocol {
        let health = [HealthCheck("test dependency") { if !healthy { throw Broken() } }]
        let router = EdgeRouter.make(health: health) { api in
            api.get("boom") { _, _ -> Response in throw Broken() }
            api.get("teapot") { _, _ -> Response in throw APIError(.conflict, "State clash") }
            api.post("echo") { request, _ -> Response in
                let body = try await JSONBody.decode(Echo.self, from: request)
                return try JSONResponse.success(["name": body.name ?? ""])
            }
        }
        return Application(router: router)
    }

    private func decodeError(_ response: TestResponse) throws -> ErrorEnvelope {
        try JSONDecoder().decode(ErrorEnvelope.self, from: Data(buffer: response.body))
    }

    @Test func everyResponseCarriesARequestIdThatMatchesTheErrorBody() async throws {
        try await makeApp().test(.router) { client in
            try await client.execute(uri: "/api/v1/nowhere", method: .get) { response in
                #expect(response.status == .notFound)
                let id = try #require(response.headers[.xRequestID])
                let envelope = try decodeError(response)
                #expect(envelope.error.code == .notFound)
                #expect(envelope.error.requestID == id)
                #expect(envelope.errors.count == 1)
            }
        }
    }

    @Test func aValidClientRequestIdIsEchoedAndAnInvalidOneReplaced() async throws {
        try await makeApp().test(.router) { client in
            try await client.execute(uri: "/health/live", method: .get, headers: [.xRequestID: "client-1.a_b"]) { response in
                #expect(response.headers[.xRequestID] == "client-1.a_b")
            }
            try await client.execute(uri: "/health/live", method: .get, headers: [.xRequestID: "bad id!"]) { response in
                let id = try #require(response.headers[.xRequestID])
                #expect(id != "bad id!")
                #expect(id.hasPrefix("req_"))
            }
        }
    }

    @Test func anUnexpectedErrorIsAnInternalErrorThatLeaksNothing() async throws {
        try await makeApp().test(.router) { client in
            try await client.execute(uri: "/api/v1/boom", method: .get) { response in
                #expect(response.status == .internalServerError)
                let body = String(buffer: response.body)
                #expect(!body.contains("Broken"))
                let envelope = try decodeError(response)
                #expect(envelope.error.code == .internalError)
                #expect(envelope.error.field == nil)
            }
        }
    }

    @Test func thrownAPIErrorsKeepTheirCodeAndStatus() async throws {
        try await makeApp().test(.router) { client in
            try await client.execute(uri: "/api/v1/teapot", method: .get) { response in
                #expect(response.status == .conflict)
                let code = try decodeError(response).error.code
                #expect(code == .conflict)
            }
        }
    }

    @Test func oversizeBodiesAreRefusedWithPayloadTooLarge() async throws {
        try await makeApp().test(.router) { client in
            let body = ByteBuffer(repeating: UInt8(ascii: " "), count: JSONBody.maxBytes + 1)
            try await client.execute(
                uri: "/api/v1/echo",
                method: .post,
                headers: [.contentType: "application/json"],
                body: body
            ) { response in
                #expect(response.status == .contentTooLarge)
                let code = try decodeError(response).error.code
                #expect(code == .payloadTooLarge)
            }
        }
    }

    @Test func aWrongContentTypeIsMalformed() async throws {
        try await makeApp().test(.router) { client in
            try await client.execute(
                uri: "/api/v1/echo",
                method: .post,
                headers: [.contentType: "text/plain"],
                body: ByteBuffer(string: #"{"name":"x"}"#)
            ) { response in
                #expect(response.status == .badRequest)
                let code = try decodeError(response).error.code
                #expect(code == .malformedRequest)
            }
        }
    }

    @Test func readinessReportsAFailingDependencyAs503() async throws {
        try await makeApp(healthy: false).test(.router) { client in
            try await client.execute(uri: "/health/ready", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                let envelope = try decodeError(response)
                #expect(envelope.error.code == .upstreamUnavailable)
                #expect(envelope.error.message.contains("test dependency"))
            }
        }
        try await makeApp(healthy: true).test(.router) { client in
            try await client.execute(uri: "/health/ready", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).contains(#""status":"ready""#))
            }
        }
    }

    /// A dependency that is not required (Redis, shared by every instance) failing leaves
    /// the instance ready, shown as `down`; a required one failing makes it unready. Both
    /// are in `shop_health_check_up`.
    @Test func aDependencyThatIsNotRequiredIsReportedDownWithoutMakingTheInstanceUnready() async throws {
        for databaseUp in [true, false] {
            let metrics = ShopMetrics()
            let health = [
                HealthCheck("orders database") { if !databaseUp { throw Broken() } },
                HealthCheck("redis", required: false) { throw Broken() },
            ]
            let router = EdgeRouter.make(health: health, metrics: metrics) { _ in }
            try await Application(router: router).test(.router) { client in
                try await client.execute(uri: "/health/ready", method: .get) { response in
                    let body = String(buffer: response.body)
                    if databaseUp {
                        #expect(response.status == .ok)
                        #expect(body.contains(#""checks":[{"name":"orders database","status":"up"},{"name":"redis","status":"down"}]"#), "\(body)")
                        #expect(body.contains(#""status":"ready""#))
                    } else {
                        #expect(response.status == .serviceUnavailable)
                        #expect(body.contains("orders database is not answering"), "\(body)")
                        #expect(!body.contains("redis"), "only what makes it unready is named")
                    }
                }
            }
            let exposition = String(decoding: metrics.exposition(), as: UTF8.self)
            #expect(exposition.contains(#"shop_health_check_up{check="redis"} 0"#), "\(exposition)")
            #expect(exposition.contains(#"shop_health_check_up{check="orders database"} \#(databaseUp ? 1 : 0)"#), "\(exposition)")
        }
    }
}
