import AsyncHTTPClient
import Foundation
import NIOCore
import Platform
import TestSupport
import Testing

/// The real `shop` binary, started as a newcomer starts it.
@Suite(.serialized) struct ProcessTests {
    /// The `shop` executable built next to this test bundle.
    static var binary: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("shop")
    }

    final class ShopProcess: @unchecked Sendable {
        let process: ChildProcess
        let output: URL
        let directory: URL
        let dataDirectory: URL

        /// - Parameter dataDirectory: the data folder; a new one inside this process's own
        ///   temporary folder when `nil`.
        init(_ arguments: [String], environment: [String: String] = [:], dataDirectory: URL? = nil) throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("shop-proc-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            output = directory.appendingPathComponent("out.log")
            _ = FileManager.default.createFile(atPath: output.path, contents: nil)
            self.dataDirectory = dataDirectory ?? directory.appendingPathComponent("data")
            var env = ProcessInfo.processInfo.environment
            env.merge(TestServer.environment) { $1 }
            env.merge(environment) { $1 }
            process = try ChildProcess(
                ProcessTests.binary.path,
                arguments: arguments + ["--data-dir", self.dataDirectory.path],
                environment: env,
                output: output.path
            )
        }

        var log: String { (try? String(contentsOf: output, encoding: .utf8)) ?? "" }

        /// The port from the `listening on http://127.0.0.1:PORT` line.
        func port() async throws -> Int {
            try await port(after: "listening on")
        }

        /// The port from the `internal listener on http://127.0.0.1:PORT` line.
        func internalPort() async throws -> Int {
            try await port(after: "internal listener on")
        }

        private func port(after words: String) async throws -> Int {
            for _ in 0..<400 {
                if let range = log.range(of: words + #" http://127\.0\.0\.1:\d+"#, options: .regularExpression),
                    let port = Int(log[range].split(separator: ":").last!)
                {
                    return port
                }
                guard process.isRunning else { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            throw ProcessDidNotListen(log: log)
        }

        /// Returns once the log has a line containing `text` (10 s at most).
        func waitForLog(_ text: String) async throws {
            for _ in 0..<500 {
                if log.contains(text) { return }
                try await Task.sleep(for: .milliseconds(20))
            }
            throw ProcessDidNotListen(log: "never logged '\(text)':\n" + log)
        }

        func waitForExit() async throws -> Int32 {
            for _ in 0..<600 where process.isRunning {
                try await Task.sleep(for: .milliseconds(50))
            }
            if process.isRunning {
                process.terminate()
                throw ProcessDidNotListen(log: "did not exit: " + log)
            }
            return process.terminationStatus
        }

        deinit {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            try? FileManager.default.removeItem(at: directory)
        }
    }

    struct ProcessDidNotListen: Error, CustomStringConvertible {
        let log: String
        var description: String { "shop did not start listening:\n\(log)" }
    }

    @Test func serveStartsOnAFreshDataFolderAndAnswersTheEnvelope() async throws {
        let shop = try ShopProcess(["serve", "--port", "0"])
        let port = try await shop.port()
        let running = RunningShop(port: port)
        let list = try await running.request(.GET, "/api/v1/users")
        #expect(list.status == 401)
        #expect(list.json?["error"]?["code"]?.string == "UNAUTHENTICATED")
        let registered = try await running.request(
            .POST,
            "/api/v1/users",
            json: #"{"email":"first@example.com","name":"First","password":"correct horse battery staple"}"#
        )
        #expect(registered.status == 201)
        #expect(registered.json?["errors"] == .array([]))
        #expect(registered.json?["data"]?["role"]?.string == "customer")
        kill(shop.process.processIdentifier, SIGTERM)
        #expect(try await shop.waitForExit() == 0)
    }

    /// Ctrl-C while a request is still arriving: the request completes, then the process
    /// exits cleanly, and what it wrote is there on the next start.
    @Test func interruptingFinishesTheRequestInFlight() async throws {
        let shop = try ShopProcess(["serve", "--port", "0"], environment: ["LOG_LEVEL": "debug"])
        let port = try await shop.port()
        let body = ByteBuffer(string: #"{"email":"inflight@example.com","name":"In Flight","password":"correct horse battery staple"}"#)
        let (chunks, feed) = AsyncStream<ByteBuffer>.makeStream()
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/api/v1/users")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .stream(chunks, length: .known(Int64(body.readableBytes)))
        let pending = Task { try await HTTPClient.shared.execute(request, timeout: .seconds(30)) }
        feed.yield(body.getSlice(at: 0, length: 10)!)
        try await shop.waitForLog("request started")
        kill(shop.process.processIdentifier, SIGINT)
        try await shop.waitForLog("Signal caught")
        // Shutting down: it stops taking connections, but not the request it has.
        for _ in 0..<400 where (try? RawConnection(port: port)) != nil {
            try await Task.sleep(for: .milliseconds(25))
        }
        #expect((try? RawConnection(port: port)) == nil, "the listener closed")
        #expect(shop.process.isRunning, "the server must wait for the request in flight")
        feed.yield(body.getSlice(at: 10, length: body.readableBytes - 10)!)
        feed.finish()
        let response = try await pending.value
        #expect(response.status.code == 201)
        #expect(try await shop.waitForExit() == 0)

        // The same data folder, started again, has the user.
        let restarted = try ShopProcess(["serve", "--port", "0"], dataDirectory: shop.dataDirectory)
        let session = try await RunningShop(port: try await restarted.port()).logIn("inflight@example.com")
        #expect(!session.access.isEmpty)
        kill(restarted.process.processIdentifier, SIGTERM)
        #expect(try await restarted.waitForExit() == 0)
    }

    /// A stop begins with readiness failing while the server still serves, so balancers
    /// and the gateway take the instance out before its listeners close; then it exits.
    @Test func aStopFailsReadinessFirstAndServesOnWhileItDrains() async throws {
        let shop = try ShopProcess(["serve", "--port", "0"], environment: ["SHUTDOWN_DRAIN_SECONDS": "3"])
        let running = RunningShop(port: try await shop.port())
        #expect(try await running.request(.GET, "/health/ready").status == 200)

        kill(shop.process.processIdentifier, SIGTERM)
        try await shop.waitForLog("not ready any more")
        let ready = try await running.request(.GET, "/health/ready")
        #expect(ready.status == 503)
        #expect(String(decoding: ready.body, as: UTF8.self).contains("drain"))
        // Still serving everything else while it drains.
        #expect(try await running.request(.GET, "/health/live").status == 200)
        #expect(try await running.request(.GET, "/api/v1/products").status == 200)
        #expect(try await shop.waitForExit() == 0)
    }

    @Test func aDrainAsLongAsTheGraceIsRefused() async throws {
        let shop = try ShopProcess(["serve", "--port", "0"], environment: ["SHUTDOWN_DRAIN_SECONDS": "30", "SHUTDOWN_GRACE_SECONDS": "30"])
        #expect(try await shop.waitForExit() != 0)
        #expect(shop.log.contains("SHUTDOWN_DRAIN_SECONDS must be less than SHUTDOWN_GRACE_SECONDS"), "\(shop.log)")
    }

    @Test func jsonLogsCarryTheRequestIdOnEveryLine() async throws {
        let shop = try ShopProcess(["serve", "--port", "0"], environment: ["LOG_FORMAT": "json", "LOG_LEVEL": "info"])
        let running = RunningShop(port: try await shop.port())
        _ = try await running.request(.GET, "/api/v1/users?email=secret@example.com", headers: [("X-Request-ID", "trace-me-1")])
        _ = try await running.createUser("logged@example.com")
        let session = try await running.logIn("logged@example.com")
        let refused = try await running.request(.POST, "/api/v1/auth/token", json: #"{"email":"logged@example.com","password":"hunter2-not-it"}"#)
        #expect(refused.status == 401)
        kill(shop.process.processIdentifier, SIGTERM)
        #expect(try await shop.waitForExit() == 0)
        let lines = shop.log.split(separator: "\n")
        #expect(!lines.isEmpty)
        var sawRequest = false
        for line in lines {
            let entry = try #require(try? JSONValue.parse(Data(line.utf8)), "not JSON: \(line)")
            #expect(entry["level"]?.string != nil && entry["time"]?.string != nil && entry["message"]?.string != nil)
            if entry["message"]?.string == "request" {
                if entry["request_id"]?.string == "trace-me-1" {
                    #expect(entry["status"]?.string == "401")
                    sawRequest = true
                }
            }
        }
        #expect(sawRequest)
        #expect(!shop.log.contains("secret@example.com"), "query strings with personal data stay out of logs")
        for secret in [RunningShop.password, "hunter2-not-it", session.access, session.refresh] {
            #expect(!shop.log.contains(secret), "passwords and tokens stay out of logs")
        }
    }

    @Test func aWrongSettingIsNamedAndNothingStarts() async throws {
        let shop = try ShopProcess(["serve"], environment: ["PORT": "eighty"])
        #expect(try await shop.waitForExit() != 0)
        #expect(shop.log.contains("PORT must be an integer from 0 to 65535, got 'eighty'"))
    }

    @Test(.enabled(if: TestDatabases.postgresAvailable && RedisServer.available))
    func migrateAndServeTheUsersServiceAloneOnPostgreSQL() async throws {
        let redis = try RedisServer()
        try await TestDatabases.withPostgresURL { url in
            let keys = FileManager.default.temporaryDirectory.appendingPathComponent("keys-\(UUID().uuidString).pem").path
            _ = try SigningKeySet.loadOrCreate(path: keys)
            defer { try? FileManager.default.removeItem(atPath: keys) }
            let environment = [
                "DATABASE_URL": "postgres://\(url.username)@\(url.host):\(url.port)/\(url.database)", "JWT_SIGNING_KEYS_FILE": keys,
                "REDIS_URL": "redis://127.0.0.1:\(redis.port)",
            ]
            let migrate = try ShopProcess(["migrate", "--service", "users"], environment: environment)
            #expect(try await migrate.waitForExit() == 0)
            let shop = try ShopProcess(["serve", "--service", "users", "--port", "0"], environment: environment)
            let running = RunningShop(port: try await shop.port())
            let id = try await running.createUser("alone@example.com")
            let token = try await running.logIn("alone@example.com").access
            #expect(try await running.signedIn(as: token).request(.GET, "/api/v1/users/me").json?["data"]?["id"]?.integer == id)
            #expect(try await running.request(.GET, "/health/ready").status == 200)
            kill(shop.process.processIdentifier, SIGTERM)
            #expect(try await shop.waitForExit() == 0)
        }
    }

    @Test func createAdminBootstrapsTheFirstAdminFromTheCommandLine() async throws {
        let setup = try ShopProcess(
            ["users", "create-admin", "--email", "root@example.com"],
            environment: ["SHOP_ADMIN_PASSWORD": RunningShop.password]
        )
        #expect(try await setup.waitForExit() == 0)
        #expect(setup.log.contains("created admin #1 root@example.com"), "\(setup.log)")
        #expect(!setup.log.contains(RunningShop.password))
        let shop = try ShopProcess(["serve", "--port", "0"], dataDirectory: setup.dataDirectory)
        let running = RunningShop(port: try await shop.port())
        let admin = running.signedIn(as: try await running.logIn("root@example.com").access)
        let me = try await admin.request(.GET, "/api/v1/users/me")
        #expect(me.json?["data"]?["role"]?.string == "admin")
        #expect(try await admin.request(.GET, "/api/v1/users").status == 200)
        kill(shop.process.processIdentifier, SIGTERM)
        #expect(try await shop.waitForExit() == 0)
    }

    @Test func createAdminPromotesAnExistingAccountOnlyWhenToldAndEndsItsSessions() async throws {
        let shop = try ShopProcess(["serve", "--port", "0"])
        let running = RunningShop(port: try await shop.port())
        let id = try await running.createUser("mallory@example.com")
        let session = try await running.logIn("mallory@example.com")
        let mallory = running.signedIn(as: session.access)

        let unasked = try ShopProcess(
            ["users", "create-admin", "--email", "MALLORY@example.com"],
            environment: ["SHOP_ADMIN_PASSWORD": ""],
            dataDirectory: shop.dataDirectory
        )
        #expect(try await unasked.waitForExit() != 0)
        #expect(unasked.log.contains("--promote-existing") && unasked.log.contains("#\(id)"), "\(unasked.log)")
        #expect(try await mallory.request(.GET, "/api/v1/users/me").json?["data"]?["role"]?.string == "customer")

        let asked = try ShopProcess(
            ["users", "create-admin", "--email", "mallory@example.com", "--promote-existing"],
            environment: ["SHOP_ADMIN_PASSWORD": ""],
            dataDirectory: shop.dataDirectory
        )
        #expect(try await asked.waitForExit() == 0)
        #expect(asked.log.contains("promoted #\(id) mallory@example.com from customer to admin"), "\(asked.log)")
        let refresh = try await running.request(.POST, "/api/v1/auth/refresh", json: #"{"refresh_token":"\#(session.refresh)"}"#)
        #expect(refresh.status == 401, "the registrant's refresh token must not come back as an admin token")
        // The running server hears of it through the outbox the command wrote to.
        var status = 0
        for _ in 0..<100 {
            status = try await mallory.request(.GET, "/api/v1/users/me").status
            if status == 401 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(status == 401, "the access token from before the promotion ended too")
        kill(shop.process.processIdentifier, SIGTERM)
        #expect(try await shop.waitForExit() == 0)
    }

    @Test func aWrongRedisURLIsNamedWithoutItsPassword() async throws {
        let shop = try ShopProcess(["serve", "--port", "0"], environment: ["REDIS_URL": "redis://cache:hunter2-secret@cache.internal:notaport"])
        #expect(try await shop.waitForExit() != 0)
        #expect(shop.log.contains("REDIS_URL must be redis://"), "\(shop.log)")
        #expect(shop.log.contains("redis://***@cache.internal:notaport"))
        #expect(!shop.log.contains("hunter2"), "the password is never echoed")
    }

    @Test func oneServiceAloneRefusesToStartWithoutRedis() async throws {
        let shop = try ShopProcess(["serve", "--service", "users"], environment: ["DATABASE_URL": "postgres://nobody@127.0.0.1:1/none"])
        #expect(try await shop.waitForExit() != 0)
        #expect(shop.log.contains("REDIS_URL is required when one service runs alone"), "\(shop.log)")
    }

    @Test func oneServiceAloneRefusesToStartWithoutAnInternalPort() async throws {
        let shop = try ShopProcess(
            ["serve", "--service", "users"],
            environment: ["INTERNAL_PORT": "", "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none"]
        )
        #expect(try await shop.waitForExit() != 0)
        #expect(shop.log.contains("INTERNAL_PORT is required"), "\(shop.log)")
    }

    @Test func oneServiceAloneRefusesToStartWithoutSigningKeys() async throws {
        let shop = try ShopProcess(
            ["serve", "--service", "users"],
            environment: ["DATABASE_URL": "postgres://nobody@127.0.0.1:1/none", "REDIS_URL": "redis://127.0.0.1:1"]
        )
        #expect(try await shop.waitForExit() != 0)
        #expect(shop.log.contains("JWT_SIGNING_KEYS_FILE"))
    }

    /// Two gateways on one Redis: requests to either count against one limit.
    @Test(.enabled(if: RedisServer.available))
    func twoServerProcessesSharingOneRedisShareOneLimit() async throws {
        let redis = try RedisServer()
        let keys = FileManager.default.temporaryDirectory.appendingPathComponent("keys-\(UUID().uuidString).pem").path
        _ = try SigningKeySet.loadOrCreate(path: keys)
        defer { try? FileManager.default.removeItem(atPath: keys) }
        let environment = ["REDIS_URL": "redis://127.0.0.1:\(redis.port)", "RATE_LIMIT": "6/60", "JWT_SIGNING_KEYS_FILE": keys]
        let first = try ShopProcess(["serve", "--port", "0"], environment: environment)
        let second = try ShopProcess(["serve", "--port", "0"], environment: environment)
        let a = RunningShop(port: try await first.port())
        let b = RunningShop(port: try await second.port())
        var statuses: [Int] = []
        for index in 0..<8 {
            statuses.append(try await (index.isMultiple(of: 2) ? a : b).request(.GET, "/api/v1/openapi.json").status)
        }
        #expect(statuses == [200, 200, 200, 200, 200, 200, 429, 429], "one count across both processes")
        for shop in [first, second] {
            kill(shop.process.processIdentifier, SIGTERM)
            #expect(try await shop.waitForExit() == 0)
        }
    }

    @Test func theEventCommandsListAndRefuseUnknownDeadLetters() async throws {
        let list = try ShopProcess(["events", "dead-letters"])
        #expect(try await list.waitForExit() == 0)
        #expect(!list.log.contains("users:"), "a fresh system has no dead letters")
        let replay = try ShopProcess(["events", "replay", "users:42"], dataDirectory: list.dataDirectory)
        #expect(try await replay.waitForExit() != 0)
        #expect(replay.log.contains("no dead letter users:42"))
    }

    @Test func seedLoadsADemoCatalogOnceThatTheServerServes() async throws {
        let seed = try ShopProcess(["seed", "--users", "0", "--products", "25"])
        #expect(try await seed.waitForExit() == 0)
        let again = try ShopProcess(["seed", "--users", "0", "--products", "25"], dataDirectory: seed.dataDirectory)
        #expect(try await again.waitForExit() == 0)
        let shop = try ShopProcess(["serve", "--port", "0"], dataDirectory: seed.dataDirectory)
        let running = RunningShop(port: try await shop.port())
        let products = try await running.request(.GET, "/api/v1/products?per_page=5")
        #expect(products.json?["meta"]?["total"]?.integer == 25, "seeding twice adds nothing")
        #expect(products.json?["data"]?[0]?["available"]?.integer ?? 0 > 0)
        let categories = try await running.request(.GET, "/api/v1/categories")
        #expect(categories.json?["meta"]?["total"]?.integer == 12)
        kill(shop.process.processIdentifier, SIGTERM)
        #expect(try await shop.waitForExit() == 0)
    }

    /// Seeding Products alone needs its database and nothing a server needs (no internal
    /// port or token, no signing keys), and a long seed says how far it got.
    @Test(.enabled(if: TestDatabases.postgresAvailable))
    func seedingOneServiceAsksOnlyForItsDatabaseAndShowsProgress() async throws {
        try await TestDatabases.withPostgresURL { url in
            let seed = try ShopProcess(
                ["seed", "--service", "products", "--users", "0", "--products", "1000"],
                environment: [
                    "DATABASE_URL": "postgres://\(url.username)@\(url.host):\(url.port)/\(url.database)", "INTERNAL_PORT": "", "LOG_LEVEL": "info",
                ]
            )
            #expect(try await seed.waitForExit() == 0, "\(seed.log)")
            #expect(seed.log.contains("seeding products") && seed.log.contains("done=1000 of=1000"), "\(seed.log)")
            #expect(!seed.log.contains("made a development signing key"), "no key is made for a command that signs nothing")
        }
    }
}
