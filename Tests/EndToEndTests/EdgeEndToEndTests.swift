import Foundation
import Platform
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The edge tried as a hostile client would: odd spellings of paths, made-up methods and
/// paths, slow and many connections, tokens that outlive what they stood for.
@Suite struct EdgeEndToEndTests {
    @Test func anonymousIdempotencyKeysBelongToTheirClientAddress() async throws {
        try await TestServer.with(environment: ["TRUSTED_PROXIES": "127.0.0.1"]) { admin in
            func register(from address: String, _ email: String) async throws -> HTTPResult {
                try await admin.anonymous.request(
                    .POST,
                    "/api/v1/users",
                    headers: [("Idempotency-Key", "same-key"), ("X-Forwarded-For", address)],
                    json: #"{"email":"\#(email)","name":"N","password":"\#(RunningShop.password)"}"#
                )
            }
            let first = try await register(from: "203.0.113.1", "one@example.com")
            #expect(first.status == 201)
            let replay = try await register(from: "203.0.113.1", "one@example.com")
            #expect(replay.header("Idempotent-Replayed") == "true", "the same client's retry is a replay")
            let stranger = try await register(from: "198.51.100.7", "two@example.com")
            #expect(stranger.status == 201, "another client's key is its own: \(stranger.status)")
            #expect(stranger.header("Idempotent-Replayed") == nil)
        }
    }

    @Test func everySpellingOfTheLoginPathIsLimitedAsALogin() async throws {
        try await TestServer.with(environment: ["RATE_LIMIT_CREDENTIALS": "4/60"]) { admin in
            // The admin's own login took one of the four.
            let spellings = ["//api/v1/auth/token", "/api/v1/auth/token/", "/api/v1//auth/token", "/api/v1/auth//token/"]
            var statuses: [Int] = []
            for path in spellings {
                let result = try await admin.anonymous.request(.POST, path, json: #"{"email":"x@example.com","password":"whatever-it-is"}"#)
                #expect(result.header("RateLimit-Policy") == #""credentials";q=4;w=60"#, "\(path) reached login without its policy")
                statuses.append(result.status)
            }
            #expect(statuses == [401, 401, 401, 429])
        }
    }

    /// Every guest cart is a row the server keeps (for 30 days): an anonymous client makes
    /// them at the stricter rate of registrations, not at the default one.
    @Test func aFloodOfGuestCartsIsLimitedLikeRegistrations() async throws {
        try await TestServer.with(environment: ["RATE_LIMIT_CREDENTIALS": "3/60", "TRUSTED_PROXIES": "127.0.0.1"]) { admin in
            var statuses: [Int] = []
            for _ in 0..<4 {
                let result = try await admin.anonymous.request(.POST, "//api/v1/carts/", headers: [("X-Forwarded-For", "203.0.113.9")])
                #expect(result.header("RateLimit-Policy") == #""credentials";q=3;w=60"#)
                statuses.append(result.status)
            }
            // The admin's login spent one from the test's own address, not this one.
            #expect(statuses == [201, 201, 201, 429])
            let signedIn = try await admin.request(.POST, "/api/v1/carts")
            #expect(signedIn.header("RateLimit-Policy")?.hasPrefix(#""default""#) == true, "a customer's carts count on their own budget")
        }
    }

    @Test func madeUpPathsAndMethodsAddNoMetricsSeries() async throws {
        try await TestServer.with { admin in
            let forged = admin.signedIn(as: "not.a.token")
            _ = try await forged.request(.GET, "/api/v1/warmup-\(UUID().uuidString)")
            let before = try await metricsLines(admin)
            for index in 0..<50 {
                let path = "/api/v1/\(UUID().uuidString)/\(index)"
                _ = try await forged.request(.GET, path)
                _ = try await admin.anonymous.request(
                    .OPTIONS,
                    path,
                    headers: [("Origin", "https://evil.example"), ("Access-Control-Request-Method", "GET")]
                )
                // The server answers a method it cannot parse and closes the connection; the
                // client is told not to keep it, or a later request may find it reset (CI, once).
                // The server closes with the rest of the request unread, so the kernel may
                // reset the connection before the client reads the answer (seen under load):
                // what matters here is what the server counted, not the answer.
                _ = try? await admin.anonymous.request(.RAW(value: "BREW\(index)"), "/api/v1/users", headers: [("Connection", "close")])
            }
            let after = try await metricsLines(admin)
            let added = after.subtracting(before).filter { $0.hasPrefix("shop_http_request") }
            // A new status or method label may add a line each; never one per path.
            #expect(added.count < 40, "\(added.sorted().joined(separator: "\n"))")
            #expect(!after.contains { $0.contains("BREW") || $0.contains("/0\"") }, "raw paths and methods never become labels")
        }
    }

    @Test func aKnownPathWithAnotherMethodIs405WithAllow() async throws {
        try await TestServer.with { admin in
            let list = try await admin.request(.DELETE, "/api/v1/users")
            #expect(list.status == 405)
            #expect(list.header("Allow") == "GET, POST")
            #expect(list.json?["error"]?["code"]?.string == "METHOD_NOT_ALLOWED")
            let one = try await admin.request(.PUT, "/api/v1/users/7")
            #expect(one.status == 405)
            #expect(one.header("Allow") == "DELETE, GET, PATCH")
            #expect(try await admin.request(.DELETE, "/api/v1/no-such-thing").status == 404)
            #expect(try await admin.request(.GET, "/api/v1/users/7/nothing").status == 404)
        }
    }

    @Test func metricsAndTheInternalAPIAreOnlyOnTheInternalListener() async throws {
        let token = String(repeating: "ab", count: 20)
        try await TestServer.with(environment: ["INTERNAL_API_TOKEN": token]) { admin in
            let internalListener = try admin.internalListener
            #expect(try await admin.anonymous.request(.GET, "/metrics").status == 404)
            #expect(
                try await admin.anonymous.request(
                    .POST,
                    "/internal/v1/reservations",
                    headers: [("Authorization", "Bearer \(token)")],
                    json: "{}"
                ).status == 404
            )
            let metrics = try await internalListener.request(.GET, "/metrics")
            #expect(metrics.status == 200)
            #expect(String(decoding: metrics.body, as: UTF8.self).contains("shop_http_requests_total"))
            let reservation = try await internalListener.request(
                .POST,
                "/internal/v1/reservations",
                headers: [("Authorization", "Bearer \(token)")],
                json: #"{"id":"order-1","lines":[{"product_id":424242,"quantity":1}],"expires_in_seconds":60}"#
            )
            #expect(reservation.status == 404, "served: the product is unknown")
            #expect(reservation.json?["error"]?["code"]?.string == "NOT_FOUND", "\(String(decoding: reservation.body, as: UTF8.self))")
            #expect(try await internalListener.request(.GET, "/api/v1/users").status == 404, "the public API is not internal")
        }
    }

    @Test func aClientThatSendsAByteAtATimeIsCutOff() async throws {
        try await TestServer.with(environment: ["REQUEST_HEAD_TIMEOUT_SECONDS": "1"]) { admin in
            let connection = try RawConnection(port: admin.port)
            let head = Array("GET /health/live HTTP/1.1\r\nHost: x\r\nX-Slow: ".utf8) + Array(repeating: UInt8(ascii: "a"), count: 200)
            var sent = 0
            for byte in head {
                guard connection.send([byte]) else { break }
                sent += 1
                if connection.isClosedByPeer() { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            // 200+ bytes at 10 a second would take 20 s; the head had 1 s.
            #expect(sent < head.count, "the server kept a crawling client for \(sent) bytes")
        }
    }

    @Test func connectionsBeyondTheCapWaitUntilOneCloses() async throws {
        try await TestServer.with(environment: ["MAX_CONNECTIONS": "2"]) { admin in
            // The admin's login connection may still be pooled by the client: close ours only.
            let held = try (0..<2).map { _ in try RawConnection(port: admin.port) }
            try await Task.sleep(for: .milliseconds(200))
            let waiting = try RawConnection(port: admin.port)
            _ = waiting.send(Array("GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
            #expect(await waiting.receive(timeout: .milliseconds(800)).isEmpty, "a third connection was served while two were open")
            held.forEach { $0.close() }
            // A liveness check, not a speed one: a fully loaded test machine (this suite runs
            // beside sixty others) has taken over 10 s to get round to it.
            let answer = String(decoding: await waiting.receive(timeout: .seconds(60)), as: UTF8.self)
            #expect(answer.hasPrefix("HTTP/1.1 200"), "\(answer)")
        }
    }

    @Test(arguments: TestDatabases.kinds())
    func tokensDieWithDeletionDemotionAndPasswordChanges(_ engine: DatabaseKind) async throws {
        try await TestServer.with(engine: engine) { admin in
            let (boss, bossShop) = try await admin.customer("boss@example.com")
            #expect(try await admin.request(.PATCH, "/api/v1/users/\(boss)", json: #"{"role":"admin"}"#).status == 200)
            let bossAdmin = admin.signedIn(as: try await admin.logIn("boss@example.com").access)
            #expect(try await bossAdmin.request(.GET, "/api/v1/users").status == 200)
            #expect(try await bossShop.request(.GET, "/api/v1/users/me").status == 401, "promotion ended the customer token")
            // Demoted: the admin token stops at once, not when it expires.
            #expect(try await admin.request(.PATCH, "/api/v1/users/\(boss)", json: #"{"role":"customer"}"#).status == 200)
            let demoted = try await bossAdmin.request(.GET, "/api/v1/users")
            #expect(demoted.status == 401)
            #expect(demoted.json?["error"]?["code"]?.string == "UNAUTHENTICATED")

            let (_, ada) = try await admin.customer("ada@example.com")
            let changed = try await ada.request(
                .PUT,
                "/api/v1/users/me/password",
                json: #"{"current_password":"\#(RunningShop.password)","new_password":"a brand new passphrase"}"#
            )
            #expect(changed.status == 204)
            #expect(try await ada.request(.GET, "/api/v1/users/me").status == 401, "the old password's token ended")
            let fresh = admin.signedIn(as: try await admin.logIn("ada@example.com", password: "a brand new passphrase").access)
            #expect(try await fresh.request(.GET, "/api/v1/users/me").status == 200, "a login after the change works at once")

            let (grace, graceShop) = try await admin.customer("grace@example.com")
            #expect(try await admin.request(.DELETE, "/api/v1/users/\(grace)").status == 204)
            #expect(try await graceShop.request(.GET, "/api/v1/users/me").status == 401)
        }
    }

    @Test func oneCharacterCarryingThousandsOfMarksIsRefusedWhereverTextIsStored() async throws {
        // One character: "a" and 20,000 combining acute accents, 40 kB.
        let heavy = "a" + String(repeating: "\u{301}", count: 20_000)
        try await TestServer.with { admin in
            func field(_ result: HTTPResult) -> String? {
                #expect(result.status == 422, "\(String(decoding: result.body.prefix(300), as: UTF8.self))")
                return result.json?["error"]?["field"]?.string
            }
            #expect(
                field(
                    try await admin.anonymous.request(
                        .POST,
                        "/api/v1/users",
                        json: #"{"email":"z@example.com","name":"\#(heavy)","password":"\#(RunningShop.password)"}"#
                    )
                ) == "name"
            )
            #expect(
                field(
                    try await admin.anonymous.request(
                        .POST,
                        "/api/v1/users",
                        json: #"{"email":"z@example.com","name":"Z","password":"1234567\#(heavy)"}"#
                    )
                ) == "password"
            )
            #expect(field(try await admin.request(.PATCH, "/api/v1/users/me", json: #"{"name":"\#(heavy)"}"#)) == "name")
            #expect(
                field(
                    try await admin.request(
                        .POST,
                        "/api/v1/products",
                        json: #"{"sku":"z-1","name":"\#(heavy)","price":{"amount":1,"currency":"EUR"}}"#
                    )
                ) == "name"
            )
            let description = String(repeating: heavy, count: 2)
            #expect(
                field(
                    try await admin.request(
                        .POST,
                        "/api/v1/products",
                        json: #"{"sku":"z-1","name":"Z","description":"\#(description)","price":{"amount":1,"currency":"EUR"}}"#
                    )
                ) == "description"
            )
            #expect(
                field(
                    try await admin.request(
                        .POST,
                        "/api/v1/products",
                        json: #"{"sku":"z-1","name":"Z","attributes":{"colour":"\#(heavy)"},"price":{"amount":1,"currency":"EUR"}}"#
                    )
                ) == "attributes"
            )
            #expect(field(try await admin.request(.POST, "/api/v1/categories", json: #"{"name":"\#(heavy)","slug":"z"}"#)) == "name")
            let product = try await admin.request(.POST, "/api/v1/products", json: #"{"sku":"z-2","name":"Z","price":{"amount":1,"currency":"EUR"}}"#)
            let id = try #require(product.json?["data"]?["id"]?.integer)
            #expect(
                field(
                    try await admin.request(
                        .POST,
                        "/api/v1/products/\(id)/inventory/adjustments",
                        json: #"{"change":1,"reason":"\#(heavy)"}"#
                    )
                ) == "reason"
            )
            let query = ("a" + String(repeating: "\u{301}", count: 500)).addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            #expect(field(try await admin.anonymous.request(.GET, "/api/v1/products?q=\(query)")) == "q")
        }
    }

    @Test func loginsBeyondTheHashingQueueAre503WithRetryAfterAtOnce() async throws {
        try await TestServer.with(environment: ["PASSWORD_HASH_QUEUE": "0", "BCRYPT_COST": "10"]) { admin in
            let results = try await withThrowingTaskGroup(of: HTTPResult.self) { group in
                for _ in 0..<12 {
                    group.addTask {
                        try await admin.anonymous.request(.POST, "/api/v1/auth/token", json: #"{"email":"x@example.com","password":"a wrong guess"}"#)
                    }
                }
                return try await group.reduce(into: [HTTPResult]()) { $0.append($1) }
            }
            let busy = results.filter { $0.status == 503 }
            #expect(!busy.isEmpty && results.allSatisfy { [401, 503].contains($0.status) }, "\(results.map(\.status))")
            for result in busy {
                #expect(result.header("Retry-After") != nil)
                #expect(try OpenAPIContractTests.problems(of: result, method: .POST, path: "/api/v1/auth/token").isEmpty)
            }
        }
    }

    @Test func lengthsAreCountedInCodePointsAsTheContractCountsThem() async throws {
        try await TestServer.with { admin in
            // 101 code points that a person reads as 51 characters: over the 100 of maxLength.
            let name = String(repeating: "e\u{301}", count: 50) + "x"
            let long = try await admin.anonymous.request(
                .POST,
                "/api/v1/users",
                json: #"{"email":"n@example.com","name":"\#(name)","password":"\#(RunningShop.password)"}"#
            )
            #expect(long.status == 422)
            #expect(long.json?["error"]?["field"]?.string == "name")
            // Eight code points, four characters: a password of minLength 8.
            let password = String(repeating: "e\u{301}", count: 4)
            let short = try await admin.anonymous.request(
                .POST,
                "/api/v1/users",
                json: #"{"email":"p@example.com","name":"P","password":"\#(password)"}"#
            )
            #expect(short.status == 201, "\(String(decoding: short.body, as: UTF8.self))")
        }
    }

    @Test func unknownFieldsOfNestedObjectsAreRefusedByPath() async throws {
        try await TestServer.with { admin in
            let result = try await admin.request(
                .POST,
                "/api/v1/products",
                json: #"{"sku":"x-1","name":"X","price":{"amount":1,"currency":"EUR","typo":true}}"#
            )
            #expect(result.status == 422)
            #expect(result.json?["error"]?["field"]?.string == "price.typo")
            #expect(result.json?["error"]?["message"]?.string == "Unknown field")
            #expect(try await admin.request(.GET, "/api/v1/products?status=draft").json?["data"]?.array?.isEmpty == true, "nothing written")
        }
    }

    @Test(.enabled(if: RedisServer.available))
    func anEndedSessionIsRefusedByEveryProcessSharingRedis() async throws {
        let redis = try RedisServer()
        let keys = FileManager.default.temporaryDirectory.appendingPathComponent("keys-\(UUID().uuidString).pem").path
        _ = try SigningKeySet.loadOrCreate(path: keys)
        defer { try? FileManager.default.removeItem(atPath: keys) }
        let environment = ["REDIS_URL": "redis://127.0.0.1:\(redis.port)", "JWT_SIGNING_KEYS_FILE": keys]
        try await TestServer.with(environment: environment) { first in
            try await TestServer.with(environment: environment) { second in
                // Two shops with their own databases, one Redis and one key: the token of a
                // user of the first is good at the second until the first ends its sessions.
                let (id, ada) = try await first.customer("ada@example.com")
                let elsewhere = second.signedIn(as: try #require(ada.token))
                #expect(try await elsewhere.request(.GET, "/api/v1/products").status == 200)
                #expect(try await first.request(.PATCH, "/api/v1/users/\(id)", json: #"{"role":"staff"}"#).status == 200)
                #expect(try await elsewhere.request(.GET, "/api/v1/products").status == 401)
            }
        }
    }
}

/// The lines of the internal listener's `/metrics`.
func metricsLines(_ shop: RunningShop) async throws -> Set<String> {
    let text = String(decoding: try await shop.internalListener.request(.GET, "/metrics").body, as: UTF8.self)
    return Set(
        text.split(separator: "\n").map { line in
            // The value changes; the series is what counts.
            String(line.split(separator: " ").dropLast().joined(separator: " "))
        }
    )
}

/// A TCP connection on loopback driven byte by byte, as a hand-written client would.
final class RawConnection: @unchecked Sendable {
    private let socket: Int32
    private var isOpen = true

    init(port: Int) throws {
        socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw POSIXError(.ECONNREFUSED) }
    }

    /// Whether the bytes went out (false once the peer has closed).
    func send(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == bytes.count
    }

    /// Whether the peer has closed its side (a read would return end of file).
    func isClosedByPeer() -> Bool {
        var byte: UInt8 = 0
        let count = recv(socket, &byte, 1, Int32(MSG_DONTWAIT) | Int32(MSG_PEEK))
        return count == 0 || (count < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
    }

    /// What arrives within `timeout` (until the peer is quiet for 200 ms after its first bytes,
    /// or closes). It polls without blocking and sleeps between polls: a blocking wait would hold
    /// one of the few cooperative threads that the in-process server needs to answer.
    func receive(timeout: Duration) async -> [UInt8] {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var received: [UInt8] = []
        var lastByte = clock.now
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = recv(socket, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            if count > 0 {
                received += buffer[..<count]
                lastByte = clock.now
                continue
            }
            guard count < 0, errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR else { break }
            if received.isEmpty ? clock.now >= deadline : clock.now - lastByte >= .milliseconds(200) { break }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return received
    }

    func close() {
        guard isOpen else { return }
        isOpen = false
        Glibc.close(socket)
    }

    deinit {
        close()
    }
}
