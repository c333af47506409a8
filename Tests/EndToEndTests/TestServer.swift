import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Platform
import ServiceLifecycle
import TestSupport

@testable import shop

/// A response as a client sees it.
struct HTTPResult: Sendable {
    let status: Int
    let headers: [String: String]
    let body: Data

    var json: JSONValue? { try? JSONValue.parse(body) }
    func header(_ name: String) -> String? { headers[name.lowercased()] }
}

/// The real system, built by the composition root, listening on a free loopback port.
struct RunningShop: Sendable {
    let port: Int

    var baseURL: String { "http://127.0.0.1:\(port)" }

    func request(
        _ method: NIOHTTP1.HTTPMethod,
        _ path: String,
        headers: [(String, String)] = [],
        json: String? = nil,
        body: Data? = nil
    ) async throws -> HTTPResult {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let json {
            if !headers.contains(where: { $0.0.lowercased() == "content-type" }) {
                request.headers.add(name: "Content-Type", value: "application/json")
            }
            request.body = .bytes(ByteBuffer(string: json))
        } else if let body {
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let buffer = try await response.body.collect(upTo: 16 << 20)
        var fields: [String: String] = [:]
        for header in response.headers { fields[header.name.lowercased()] = header.value }
        return HTTPResult(status: Int(response.status.code), headers: fields, body: Data(buffer.readableBytesView))
    }

    /// Registers a user and returns its id.
    func createUser(_ email: String, name: String = "Test User") async throws -> Int64 {
        let result = try await request(.POST, "/api/v1/users", json: #"{"email":"\#(email)","name":"\#(name)"}"#)
        guard result.status == 201, let id = result.json?["data"]?["id"]?.integer else {
            throw UnexpectedResponse(result: result)
        }
        return id
    }
}

struct UnexpectedResponse: Error, CustomStringConvertible {
    let result: HTTPResult
    var description: String { "unexpected \(result.status): \(String(decoding: result.body, as: UTF8.self))" }
}

enum TestServer {
    static let logger: Logger = {
        var logger = Logger(label: "e2e")
        logger.logLevel = .warning
        return logger
    }()

    /// Runs the system for `body`, then shuts it down gracefully.
    static func with(
        service: ServiceName = .all,
        usersDatabaseURL: DatabaseURL? = nil,
        _ body: @Sendable (RunningShop) async throws -> Void
    ) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("shop-e2e-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        var settings = try Settings(environment: [:], service: service)
        settings.port = 0
        settings.dataDirectory = directory.path
        settings.usersDatabaseURL = usersDatabaseURL
        let system = try await ShopSystem.open(settings, logger: logger)
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let app = system.application(logger: logger) { port in
            continuation.yield(port)
            continuation.finish()
        }
        let group = ServiceGroup(services: [app], logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { throw ServerDidNotStart() }
            do {
                try await body(RunningShop(port: port))
            } catch {
                await group.triggerGracefulShutdown()
                try? await tasks.waitForAll()
                await system.close()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        await system.close()
    }
}

struct ServerDidNotStart: Error {}
