import Foundation
import Gateway
import NIOHTTP1
import Testing

/// Holds the running server to `openapi.json`: every response it gives to a broad set of
/// requests is documented (path, method, status) and matches its documented schema and
/// headers; every documented response is exercised; undocumented routes answer 404.
@Suite struct OpenAPIContractTests {
    let document: JSONValue
    let validator: SchemaValidator

    init() throws {
        document = try JSONValue.parse(Data(Gateway.openAPIDocument))
        validator = SchemaValidator(document: document)
    }

    /// Statuses that a healthy server cannot be made to give on purpose.
    static let unprovokable: Set<String> = ["500", "503"]

    @Test func theServerAnswersExactlyAsDocumented() async throws {
        try await TestServer.with { shop in
            var covered: Set<String> = []
            func check(_ method: NIOHTTP1.HTTPMethod, _ path: String, json: String? = nil, headers: [(String, String)] = []) async throws -> HTTPResult {
                let result = try await shop.request(method, path, headers: headers, json: json)
                let problems = conformance(of: result, method: method, path: path)
                #expect(problems.isEmpty, "\(method) \(path) → \(result.status): \(problems)")
                if let template = template(for: path) {
                    covered.insert("\(method.rawValue.lowercased()) \(template) \(result.status)")
                }
                return result
            }
            let oversize = "{\"name\":\"" + String(repeating: "x", count: 1 << 20) + "\"}"

            _ = try await check(.GET, "/health/live")
            _ = try await check(.GET, "/health/ready")
            _ = try await check(.GET, "/api/v1/openapi.json")
            let created = try await check(.POST, "/api/v1/users", json: #"{"email":"c@example.com","name":"C"}"#)
            let id = try #require(created.json?["data"]?["id"]?.integer)
            _ = try await check(.POST, "/api/v1/users", json: #"{"email":"second@example.com","name":"S"}"#)
            _ = try await check(.POST, "/api/v1/users", json: #"{"email":"c@example.com","name":"C"}"#)
            _ = try await check(.POST, "/api/v1/users", json: #"{"email":"k@example.com","name":"K"}"#, headers: [("Idempotency-Key", "contract")])
            let replay = try await check(.POST, "/api/v1/users", json: #"{"email":"k@example.com","name":"K"}"#, headers: [("Idempotency-Key", "contract")])
            #expect(replay.header("Idempotent-Replayed") == "true")
            _ = try await check(.POST, "/api/v1/users", json: #"{"email":"other@example.com","name":"O"}"#, headers: [("Idempotency-Key", "contract")])
            _ = try await check(.POST, "/api/v1/users", json: "{")
            _ = try await check(.POST, "/api/v1/users", json: oversize)
            _ = try await check(.GET, "/api/v1/users")
            _ = try await check(.GET, "/api/v1/users?per_page=1&page=2&sort=-created_at")
            _ = try await check(.GET, "/api/v1/users?cursor=&per_page=1")
            _ = try await check(.GET, "/api/v1/users?per_page=0")
            _ = try await check(.GET, "/api/v1/users/\(id)")
            _ = try await check(.GET, "/api/v1/users/424242")
            _ = try await check(.GET, "/api/v1/users/x")
            _ = try await check(.PATCH, "/api/v1/users/\(id)", json: #"{"name":"C2"}"#)
            _ = try await check(.PATCH, "/api/v1/users/\(id)", json: "nope")
            _ = try await check(.PATCH, "/api/v1/users/\(id)", json: oversize)
            _ = try await check(.PATCH, "/api/v1/users/\(id)", json: #"{"email":"bad"}"#)
            _ = try await check(.PATCH, "/api/v1/users/424242", json: #"{"name":"Nobody"}"#)
            _ = try await check(.DELETE, "/api/v1/users/\(id)")
            _ = try await check(.DELETE, "/api/v1/users/\(id)")
            _ = try await check(.DELETE, "/api/v1/users/-1")

            let documented = documentedResponses().filter { !Self.unprovokable.contains(String($0.split(separator: " ").last!)) }
            let missing = documented.subtracting(covered).sorted()
            #expect(missing.isEmpty, "documented but never exercised: \(missing)")

            for (method, path) in [(NIOHTTP1.HTTPMethod.GET, "/api/v2/users"), (.POST, "/api/v1/users/1"), (.PUT, "/api/v1/users"),
                                   (.GET, "/users"), (.DELETE, "/api/v1/users"), (.GET, "/metrics/secret"), (.POST, "/health/live")] {
                let result = try await shop.request(method, path, json: method == .GET ? nil : "{}")
                #expect(result.status == 404, "\(method) \(path) is undocumented but answered \(result.status)")
                let envelope = try #require(validator.resolve("#/components/schemas/ErrorEnvelope"))
                #expect(validator.violations(of: result.json ?? .null, against: envelope).isEmpty)
            }
        }
    }

    /// Every "method path status" the document promises.
    func documentedResponses() -> Set<String> {
        var result: Set<String> = []
        for (path, item) in document["paths"]?.object ?? [:] {
            for (method, operation) in item.object ?? [:] where method != "parameters" {
                for status in operation["responses"]?.object?.keys ?? [:].keys {
                    result.insert("\(method) \(path) \(status)")
                }
            }
        }
        return result
    }

    /// The documented path template that `path` (query stripped) falls under.
    func template(for path: String) -> String? {
        let bare = String(path.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)[0])
        let segments = bare.split(separator: "/", omittingEmptySubsequences: false)
        return document["paths"]?.object?.keys.first { template in
            let parts = template.split(separator: "/", omittingEmptySubsequences: false)
            return parts.count == segments.count
                && zip(parts, segments).allSatisfy { $0.hasPrefix("{") || $0 == $1 }
        }
    }

    /// What is wrong with `result` as an answer to `method path`, by the document.
    func conformance(of result: HTTPResult, method: NIOHTTP1.HTTPMethod, path: String) -> [String] {
        guard let template = template(for: path) else { return ["path is not documented"] }
        guard let operation = document["paths"]?[template]?[method.rawValue.lowercased()] else {
            return ["method is not documented"]
        }
        guard let response = validator.dereference(operation["responses"]?[String(result.status)]) else {
            return ["status \(result.status) is not documented"]
        }
        var problems: [String] = []
        for (name, header) in response["headers"]?.object ?? [:] {
            guard let header = validator.dereference(header) else { continue }
            let value = result.header(name)
            if header["required"] == .bool(true), value == nil { problems.append("missing header \(name)") }
            if let value, let schema = header["schema"] {
                problems += validator.violations(of: .string(value), against: schema, at: name)
            }
        }
        if let schema = response["content"]?["application/json"]?["schema"] {
            guard result.header("Content-Type")?.hasPrefix("application/json") == true else {
                return problems + ["content type is \(result.header("Content-Type") ?? "missing")"]
            }
            guard let body = result.json else { return problems + ["body is not JSON"] }
            problems += validator.violations(of: body, against: schema)
        } else if !result.body.isEmpty {
            problems.append("undocumented body")
        }
        return problems
    }
}
