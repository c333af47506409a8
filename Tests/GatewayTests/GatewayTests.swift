import Foundation
import Gateway
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOFoundationCompat
import Platform
import Testing

@Suite struct GatewayTests {
    @Test func theDocumentIsOpenAPI31WithAnIdForEveryOperation() throws {
        let document = try #require(try JSONSerialization.jsonObject(with: Data(Gateway.openAPIDocument)) as? [String: Any])
        #expect(document["openapi"] as? String == "3.1.0")
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        var ids: [String] = []
        for (path, item) in paths {
            #expect(
                path.hasPrefix("/api/v1/") || path.hasPrefix("/health/") || path.hasPrefix("/.well-known/") || path == "/metrics"
                    || path == "/images/{name}",
                "\(path) is outside the versioned prefix and the known unversioned ones"
            )
            for (method, operation) in item where method != "parameters" {
                let id = (operation as? [String: Any])?["operationId"] as? String
                #expect(id != nil, "\(method) \(path) has no operationId")
                ids.append(id ?? "")
            }
        }
        #expect(Set(ids).count == ids.count, "operationIds repeat")
    }

    @Test func theRouterServesTheDocumentAndMountsServicesUnderTheVersion() async throws {
        let router = Gateway.makeRouter(
            health: [],
            tokens: GuardTests.tokens,
            rateLimits: InMemoryRateLimitStore(),
            configuration: GuardConfiguration()
        ) { api in
            api.get("ping") { _, _ in try JSONResponse.success(["pong": true]) }
        }
        try await Application(router: router).test(.router) { client in
            try await client.execute(uri: "/api/v1/openapi.json", method: .get) { response in
                #expect(response.status == .ok)
                #expect(Array(response.body.readableBytesView) == Gateway.openAPIDocument)
                #expect(response.headers[.xRequestID] != nil)
            }
            try await client.execute(uri: "/api/v1/ping", method: .get) { response in
                #expect(String(buffer: response.body) == #"{"data":{"pong":true},"errors":[],"meta":{}}"#)
            }
            try await client.execute(uri: "/ping", method: .get) { response in
                #expect(response.status == .notFound)
            }
            try await client.execute(uri: "/.well-known/jwks.json", method: .get) { response in
                let jwks = try JSONDecoder().decode(JSONWebKeySet.self, from: Data(buffer: response.body))
                #expect(jwks == GuardTests.tokens.verification.jwks)
            }
        }
    }
}
