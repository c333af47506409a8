import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTP1
import Platform
import Testing

@testable import Gateway

/// The gateway in front of instances of a service: round-robin, ejection, retries, what
/// crosses it and what does not.
@Suite struct ReverseProxyTests {
    @Test func requestsTakeTurnsOverTheInstances() async throws {
        let (a, b) = (try FakeInstance(name: "a"), try FakeInstance(name: "b"))
        try await a.start()
        try await b.start()
        try await GatewayHarness.with([a.address, b.address]) { gateway async throws in
            for _ in 0..<10 {
                #expect(try await gateway.request(.GET, "/api/v1/products").status == 200)
            }
        }
        #expect(a.requests == 5)
        #expect(b.requests == 5)
        await a.stop()
        await b.stop()
    }

    @Test func aRefusingInstanceIsEjectedAndAGetIsRetriedOnAnother() async throws {
        let b = try FakeInstance(name: "b")
        try await b.start()
        let refusing = try GatewayHarness.refusingAddress()
        try await GatewayHarness.with([refusing, b.address]) { gateway async throws in
            let first = try await gateway.request(.GET, "/api/v1/products/7")
            #expect(first.status == 200, "sent again to the other instance")
            #expect(gateway.metric(#"shop_gateway_retries_total{upstream="shop"}"#) == 1)
            #expect(gateway.metric(#"shop_gateway_upstream_healthy{upstream="shop",upstream_instance="\#(refusing)"}"#) == 0)
            #expect(gateway.upstream.instances[0].isAvailable == false)
            for _ in 0..<4 {
                #expect(try await gateway.request(.GET, "/api/v1/products/7").status == 200)
            }
            #expect(gateway.metric(#"shop_gateway_retries_total{upstream="shop"}"#) == 1, "the ejected instance is not tried again")
        }
        #expect(b.requests == 5)
        await b.stop()
    }

    /// PUT and DELETE are idempotent in HTTP (and ours are: a PUT sets, a DELETE removes):
    /// they go on to another instance like a GET; a PATCH, like a POST, is sent once.
    @Test(arguments: [
        (NIOHTTP1.HTTPMethod.PUT, "/api/v1/cart/lines/7", true), (.DELETE, "/api/v1/cart/lines/7", true), (.PATCH, "/api/v1/users/7", false),
    ])
    func idempotentMethodsGoOnToAnotherInstance(method: NIOHTTP1.HTTPMethod, path: String, repeated: Bool) async throws {
        let b = try FakeInstance(name: "b")
        try await b.start()
        try await GatewayHarness.with([try GatewayHarness.refusingAddress(), b.address]) { gateway async throws in
            let answer = try await gateway.request(
                method,
                path,
                headers: [("Content-Type", "application/json")],
                body: ByteBuffer(string: #"{"quantity":2}"#)
            )
            #expect(answer.status == (repeated ? 200 : 503), "\(method)")
        }
        #expect(b.requests == (repeated ? 1 : 0))
        await b.stop()
    }

    @Test func aPostIsSentAgainOnlyWithAnIdempotencyKey() async throws {
        let b = try FakeInstance(name: "b")
        try await b.start()
        try await GatewayHarness.with([try GatewayHarness.refusingAddress(), b.address]) { gateway async throws in
            let refused = try await gateway.request(
                .POST,
                "/api/v1/orders",
                headers: [("Content-Type", "application/json")],
                body: ByteBuffer(string: "{}")
            )
            #expect(refused.status == 503)
            #expect(String(buffer: refused.body).contains(#""code":"UPSTREAM_UNAVAILABLE""#))
            #expect(b.requests == 0, "never sent twice, not even once more elsewhere")
        }
        try await GatewayHarness.with([try GatewayHarness.refusingAddress(), b.address]) { gateway async throws in
            let body = ByteBuffer(string: #"{"cart":1}"#)
            let sent = try await gateway.request(
                .POST,
                "/api/v1/orders",
                headers: [("Content-Type", "application/json"), ("Idempotency-Key", "k-1")],
                body: body
            )
            #expect(sent.status == 200)
            #expect(String(buffer: sent.body) == Self.digest(body), "the kept body is sent whole")
        }
        #expect(b.requests == 1)
        await b.stop()
    }

    /// A fake instance whose port is taken fails to start, with the reason, instead of
    /// waiting for a port it will never get (one so waited, and stalled a whole run).
    @Test func anInstanceWhosePortIsTakenFailsToStart() async throws {
        let holder = try FakeInstance(name: "holder")
        try await holder.start()
        let late = try FakeInstance(name: "late", port: holder.port)
        await #expect(throws: (any Error).self) { try await late.start() }
        #expect(try await GatewayHarness.request(port: holder.port, .GET, "/anything").headers.first(name: "X-Instance") == "GET /anything")
        await holder.stop()
    }

    @Test func withEveryInstanceDownTheAnswerIs503AtOnce() async throws {
        let (a, b) = (try FakeInstance(name: "a"), try FakeInstance(name: "b"))
        try await a.start()
        try await b.start()
        a.setReady(false)
        b.setReady(false)
        try await GatewayHarness.with([a.address, b.address]) { gateway async throws in
            await gateway.checks.checkAll()
            let answer = try await gateway.request(.GET, "/api/v1/products")
            #expect(answer.status == 503)
            let body = String(buffer: answer.body)
            #expect(body.contains(#""code":"UPSTREAM_UNAVAILABLE""#))
            #expect(body.contains(#""request_id":"#))
            #expect(answer.headers.first(name: "X-Request-ID") != nil)
            let retryAfter = try #require(answer.headers.first(name: "Retry-After").flatMap(Int.init))
            #expect((1...30).contains(retryAfter))
        }
        #expect(a.requests == 0 && b.requests == 0, "no instance known down was tried")
        await a.stop()
        await b.stop()
    }

    @Test func anInstanceThatAnswersItsHealthCheckAgainRejoins() async throws {
        let b = try FakeInstance(name: "b")
        try await b.start()
        let a = try FakeInstance(name: "a")
        try await GatewayHarness.with([a.address, b.address]) { gateway async throws in
            #expect(try await gateway.request(.GET, "/api/v1/products").status == 200)
            #expect(gateway.upstream.instances[0].isAvailable == false, "ejected when refused")
            await gateway.checks.checkAll()
            #expect(gateway.upstream.instances[0].isAvailable == false, "still down")
            try await a.start()
            await gateway.checks.checkAll()
            #expect(gateway.upstream.instances[0].isAvailable)
            #expect(gateway.metric(#"shop_gateway_upstream_healthy{upstream="shop",upstream_instance="\#(a.address)"}"#) == 1)
            for _ in 0..<4 {
                #expect(try await gateway.request(.GET, "/api/v1/products").status == 200)
            }
        }
        #expect(a.requests == 2, "back in its turn")
        await a.stop()
        await b.stop()
    }

    @Test func hopByHopHeadersStayAndTheGatewaysOwnAreSet() async throws {
        let upstream = try FakeInstance(name: "a") { seen in
            var response = FakeInstance.echo(seen)
            response.headers[HTTPField.Name("Connection")!] = "X-Upstream-Hop"
            response.headers[HTTPField.Name("X-Upstream-Hop")!] = "1"
            response.headers[HTTPField.Name("Keep-Alive")!] = "timeout=5"
            response.headers[HTTPField.Name("X-Request-ID")!] = "req_upstream"
            return response
        }
        try await upstream.start()
        try await GatewayHarness.with([upstream.address]) { gateway async throws in
            let answer = try await gateway.request(
                .GET,
                "/api/v1/products",
                headers: [
                    ("Connection", "X-Custom-Hop"), ("X-Custom-Hop", "1"), ("Keep-Alive", "timeout=5"), ("Proxy-Authorization", "Basic eDp5"),
                    ("X-Shop-Gateway", "forged"), ("X-Forwarded-For", "203.0.113.9"), ("X-Request-ID", "req_client.1"),
                    ("X-Forwarded-Proto", "https"), ("Accept", "application/json"),
                ]
            )
            #expect(answer.status == 200)
            #expect(answer.headers.first(name: "X-Upstream-Hop") == nil)
            #expect(answer.headers.first(name: "Keep-Alive") == nil)
            #expect(answer.headers.first(name: "ETag") != nil, "end-to-end headers come back")
            #expect(answer.headers.first(name: "X-Request-ID") == "req_client.1", "the edge's id, not the upstream's")
            #expect(answer.headers.first(name: "X-Content-Type-Options") == "nosniff")
            let seen = try #require(upstream.seen.first)
            for name in ["X-Custom-Hop", "Keep-Alive", "Proxy-Authorization"] {
                #expect(seen.headers[HTTPField.Name(name)!] == nil, "\(name) forwarded")
            }
            #expect(seen.headers[HTTPField.Name("Connection")!] != "X-Custom-Hop")
            #expect(seen.headers[values: HTTPField.Name("X-Shop-Gateway")!] == [GatewayHarness.token], "a client's own is dropped")
            #expect(seen.headers[HTTPField.Name("X-Request-ID")!] == "req_client.1")
            #expect(seen.headers[HTTPField.Name("X-Forwarded-For")!] == "203.0.113.9, 127.0.0.1")
            #expect(seen.headers[HTTPField.Name("X-Forwarded-Proto")!] == "http", "the client's claim is not believed")
            #expect(seen.headers[.accept] == "application/json")
        }
        await upstream.stop()
    }

    @Test func aLargeBodyStreamsThroughBothWays() async throws {
        let size = 8 << 20
        var bytes = [UInt8](repeating: 0, count: size)
        for index in bytes.indices { bytes[index] = UInt8(truncatingIfNeeded: index &* 2_654_435_761 >> 7) }
        let payload = bytes
        let upstream = try FakeInstance(name: "a") { seen in
            Response(
                status: .created,
                headers: [HTTPField.Name("X-Body-Digest")!: seen.bodyDigest, .contentType: "application/octet-stream"],
                body: .init(byteBuffer: ByteBuffer(bytes: payload.reversed()))
            )
        }
        try await upstream.start()
        try await GatewayHarness.with([upstream.address]) { gateway async throws in
            let answer = try await gateway.request(
                .POST,
                "/api/v1/products/7/images",
                headers: [("Content-Type", "image/png")],
                body: ByteBuffer(bytes: payload)
            )
            #expect(answer.status == 201)
            #expect(answer.headers.first(name: "X-Body-Digest") == Self.digest(ByteBuffer(bytes: payload)))
            #expect(Self.digest(answer.body) == Self.digest(ByteBuffer(bytes: payload.reversed())))
        }
        #expect(upstream.seen.first?.bodyBytes == size)
        await upstream.stop()
    }

    @Test func pathsAndQueriesPassThroughAsSent() async throws {
        let upstream = try FakeInstance(name: "a")
        try await upstream.start()
        try await GatewayHarness.with([upstream.address]) { gateway async throws in
            for target in [
                "/api/v1/products?q=a%20b&x=1&x=2&empty=&plus=a+b&sym=%26%3D%3F",
                "/api/v1/products/by-slug/caf%C3%A9-%2F-x",
                "/api/v1/products/by-slug/a:b@c!$'()*+,;=~._-",
                "//api/v1/users/",
                "/api/v1//users/7/",
            ] {
                let answer = try await gateway.request(.GET, target)
                #expect(answer.status == 200, "\(target)")
                #expect(answer.headers.first(name: "X-Instance") == "GET \(target)")
            }
            let unknown = try await gateway.request(.GET, "/api/v1/nothing-here")
            #expect(unknown.status == 404)
            #expect(String(buffer: unknown.body).contains(#""code":"NOT_FOUND""#))
            let wrongMethod = try await gateway.request(.PUT, "/api/v1/products")
            #expect(wrongMethod.status == 405)
            #expect(wrongMethod.headers.first(name: "Allow") == "GET, POST")
        }
        #expect(upstream.requests == 5, "unknown routes and methods are answered at the edge")
        await upstream.stop()
    }

    @Test func anInstanceThatDoesNotAnswerInTimeIsSetAsideAndOnlySafeRequestsGoElsewhere() async throws {
        let stuck = try FakeInstance(name: "stuck")
        stuck.stall(true)
        let b = try FakeInstance(name: "b")
        try await stuck.start()
        try await b.start()
        // Three seconds per attempt: the retry's fresh connection to `b` must fit in it on a
        // loaded machine too (one second did not, once, in CI).
        try await GatewayHarness.with([stuck.address, b.address], timeout: .seconds(3)) { gateway async throws in
            let answer = try await gateway.request(.GET, "/api/v1/products")
            #expect(answer.status == 200, "sent again after the timeout: \(String(buffer: answer.body))")
            #expect(gateway.upstream.instances[0].isAvailable == false)
            #expect(gateway.metric(#"shop_circuit_breaker_state{breaker="shop@\#(stuck.address)"}"#) == 0, "one failure opens no breaker")
        }
        try await GatewayHarness.with([stuck.address, b.address], timeout: .seconds(3)) { gateway async throws in
            let answer = try await gateway.request(
                .POST,
                "/api/v1/orders",
                headers: [("Content-Type", "application/json")],
                body: ByteBuffer(string: "{}")
            )
            #expect(answer.status == 503)
        }
        #expect(b.seen.map(\.method) == ["GET"], "the POST went to the stuck instance only")
        stuck.stall(false)
        await stuck.stop()
        await b.stop()
    }

    /// Each route waits as long as its own timeout says: a stuck instance costs a read of
    /// the list one second here, whatever the other routes allow.
    @Test func aRouteWaitsOnlyAsLongAsItsOwnTimeout() async throws {
        let stuck = try FakeInstance(name: "stuck")
        stuck.stall(true)
        try await stuck.start()
        let timeouts = RouteTimeouts(reads: .seconds(600), writes: .seconds(600), routes: ["GET /api/v1/products": .seconds(1)])
        try await GatewayHarness.with([stuck.address], timeouts: timeouts) { gateway async throws in
            let answer = try await gateway.request(.GET, "/api/v1/products")
            #expect(answer.status == 503, "given up after its own second, not the default ten minutes")
            #expect(String(buffer: answer.body).contains(#""code":"UPSTREAM_UNAVAILABLE""#))
        }
        stuck.stall(false)
        await stuck.stop()
    }

    @Test func timeoutsGoByRouteThenByMethod() throws {
        let table = try GatewayRouteTable(document: Gateway.openAPIDocument, owners: [.init(upstream: "shop", prefixes: ["/api/v1", "/images"])])
        func route(_ method: HTTPRequest.Method, _ path: String) throws -> GatewayRouteTable.Route {
            try #require(table.routes.first { $0.method == method && $0.path == path })
        }
        let timeouts = RouteTimeouts()
        #expect(timeouts.timeout(for: try route(.get, "/api/v1/products")) == .seconds(10))
        #expect(timeouts.timeout(for: try route(.post, "/api/v1/orders")) == .seconds(30))
        #expect(timeouts.timeout(for: try route(.post, "/api/v1/products/{id}/images")) == .seconds(120))
        #expect(timeouts.longest == .seconds(120))
        try timeouts.check(against: table)

        let parsed = try RouteTimeouts.parse("get /api/v1/products=5, POST /api/v1/orders=20")
        #expect(parsed == ["GET /api/v1/products": .seconds(5), "POST /api/v1/orders": .seconds(20)])
        for wrong in ["GET /api/v1/products", "GET=5", "/api/v1/products=5", "GET /api/v1/products=0", "GET /api/v1/products=x", "GET api=5"] {
            #expect(throws: InvalidValue.self, "\(wrong)") { try RouteTimeouts.parse(wrong) }
        }
        #expect(throws: InvalidValue.self) { try RouteTimeouts(routes: ["GET /api/v1/nothing": .seconds(5)]).check(against: table) }
    }

    /// Five 503s in a row from one instance (its database is gone) set it aside; the
    /// answers themselves reach the client as they were. A run broken by a good answer, or
    /// made of 500s, sets nothing aside.
    @Test func anInstanceAnsweringThatItCannotServeIsSetAside() async throws {
        let sick = try FakeInstance(name: "sick") { seen in
            seen.uri.hasSuffix("ok=1")
                ? Response(status: .ok)
                : Response(status: seen.uri.hasSuffix("bug=1") ? .internalServerError : .serviceUnavailable)
        }
        try await sick.start()
        try await GatewayHarness.with([sick.address]) { gateway async throws in
            for _ in 0..<4 { #expect(try await gateway.request(.GET, "/api/v1/products").status == 503) }
            #expect(try await gateway.request(.GET, "/api/v1/products?ok=1").status == 200)
            for _ in 0..<4 { #expect(try await gateway.request(.GET, "/api/v1/products").status == 503) }
            for _ in 0..<8 { #expect(try await gateway.request(.GET, "/api/v1/products?bug=1").status == 500) }
            #expect(gateway.upstream.instances[0].isAvailable, "four 503s, a 200, four more, then 500s")
            #expect(try await gateway.request(.GET, "/api/v1/products").status == 503)
            #expect(try await gateway.request(.GET, "/api/v1/products").status == 503)
            #expect(try await gateway.request(.GET, "/api/v1/products").status == 503)
            #expect(try await gateway.request(.GET, "/api/v1/products").status == 503)
            #expect(try await gateway.request(.GET, "/api/v1/products").status == 503)
            #expect(gateway.upstream.instances[0].isAvailable == false, "five in a row")
            let refused = try await gateway.request(.GET, "/api/v1/products")
            #expect(refused.status == 503)
            #expect(String(buffer: refused.body).contains("UPSTREAM_UNAVAILABLE"), "answered by the gateway, not sent")
        }
        #expect(sick.requests == 22)
        await sick.stop()
    }

    @Test func answersWithoutABodyPassThrough() async throws {
        let upstream = try FakeInstance(name: "a") { seen in
            seen.method == "DELETE"
                ? Response(status: .noContent)
                : Response(status: .notModified, headers: [.eTag: "\"v1\"", .cacheControl: "public, max-age=60"])
        }
        try await upstream.start()
        try await GatewayHarness.with([upstream.address]) { gateway async throws in
            let cached = try await gateway.request(.GET, "/api/v1/products/7", headers: [("If-None-Match", "\"v1\"")])
            #expect(cached.status == 304)
            #expect(cached.headers.first(name: "ETag") == "\"v1\"")
            #expect(cached.body.readableBytes == 0)
            let deleted = try await gateway.request(.DELETE, "/api/v1/users/7")
            #expect(deleted.status == 204)
            #expect(try await gateway.request(.GET, "/api/v1/products/7").status == 304, "the connection is still usable")
        }
        #expect(upstream.seen.first?.headers[.ifNoneMatch] == "\"v1\"")
        await upstream.stop()
    }

    @Test func theSchemeIsTakenFromATrustedProxyOnly() async throws {
        let upstream = try FakeInstance(name: "a")
        try await upstream.start()
        var configuration = GatewayHarness.generousLimits
        configuration.trustedProxies = ["127.0.0.1"]
        try await GatewayHarness.with([upstream.address], configuration: configuration) { gateway async throws in
            _ = try await gateway.request(.GET, "/api/v1/products", headers: [("X-Forwarded-Proto", "https"), ("X-Forwarded-For", "203.0.113.9")])
        }
        let seen = try #require(upstream.seen.first)
        #expect(seen.headers[HTTPField.Name("X-Forwarded-Proto")!] == "https")
        #expect(seen.headers[HTTPField.Name("X-Forwarded-For")!] == "203.0.113.9, 127.0.0.1")
        await upstream.stop()
    }

    @Test func anEjectionDoublesWhileFailuresGoOn() {
        let policy = EjectionPolicy()
        #expect((1...6).map { policy.duration(afterFailures: $0) } == [5, 10, 20, 30, 30, 30].map { Duration.seconds($0) })
    }

    static func digest(_ buffer: ByteBuffer) -> String {
        SHA256.hash(data: Data(buffer.readableBytesView)).map { String(format: "%02x", $0) }.joined()
    }
}
