import Foundation
import Platform
import Redis
import TestSupport
import Testing

/// Accounts, sessions, roles and the guard, through the gateway over real HTTP.
@Suite struct AuthEndToEndTests {
    @Test func registerLogInUseRefreshReplayAndLogOut() async throws {
        try await TestServer.with { shop in
            let anonymous = shop.anonymous
            let registered = try await anonymous.request(
                .POST,
                "/api/v1/users",
                json: #"{"email":"Ada@Example.com","name":"Ada","password":"\#(RunningShop.password)"}"#
            )
            #expect(registered.status == 201)
            #expect(registered.json?["data"]?["role"]?.string == "customer")
            #expect(registered.json?["data"]?["password"] == nil)
            #expect(!String(decoding: registered.body, as: UTF8.self).contains(RunningShop.password))

            let login = try await anonymous.request(
                .POST,
                "/api/v1/auth/token",
                json: #"{"email":"ada@example.com","password":"\#(RunningShop.password)"}"#
            )
            #expect(login.status == 200)
            #expect(login.header("Cache-Control") == "no-store")
            #expect(login.json?["data"]?["token_type"]?.string == "Bearer")
            #expect(login.json?["data"]?["expires_in"]?.integer == 900)
            let access = try #require(login.json?["data"]?["access_token"]?.string)
            let firstRefresh = try #require(login.json?["data"]?["refresh_token"]?.string)

            let me = try await shop.signedIn(as: access).request(.GET, "/api/v1/users/me")
            #expect(me.status == 200)
            #expect(me.json?["data"]?["email"]?.string == "Ada@Example.com")
            let renamed = try await shop.signedIn(as: access).request(.PATCH, "/api/v1/users/me", json: #"{"name":"Ada L."}"#)
            #expect(renamed.json?["data"]?["name"]?.string == "Ada L.")

            let refreshed = try await anonymous.request(.POST, "/api/v1/auth/refresh", json: #"{"refresh_token":"\#(firstRefresh)"}"#)
            #expect(refreshed.status == 200)
            let secondRefresh = try #require(refreshed.json?["data"]?["refresh_token"]?.string)
            #expect(secondRefresh != firstRefresh)
            let newAccess = try #require(refreshed.json?["data"]?["access_token"]?.string)
            #expect(try await shop.signedIn(as: newAccess).request(.GET, "/api/v1/users/me").status == 200)

            // The old refresh token comes back: the whole family is revoked.
            let replayed = try await anonymous.request(.POST, "/api/v1/auth/refresh", json: #"{"refresh_token":"\#(firstRefresh)"}"#)
            #expect(replayed.status == 401)
            #expect(replayed.json?["error"]?["code"]?.string == "UNAUTHENTICATED")
            let revoked = try await anonymous.request(.POST, "/api/v1/auth/refresh", json: #"{"refresh_token":"\#(secondRefresh)"}"#)
            #expect(revoked.status == 401, "the replay revoked the newer token too")

            // A new login, then logout ends that session.
            let again = try await shop.logIn("ada@example.com")
            let logout = try await anonymous.request(.POST, "/api/v1/auth/logout", json: #"{"refresh_token":"\#(again.refresh)"}"#)
            #expect(logout.status == 204)
            #expect(try await anonymous.request(.POST, "/api/v1/auth/refresh", json: #"{"refresh_token":"\#(again.refresh)"}"#).status == 401)
        }
    }

    @Test func aFailedLoginLooksTheSameWhetherOrNotTheEmailExists() async throws {
        try await TestServer.with { shop in
            _ = try await shop.createUser("known@example.com")
            let wrongPassword = try await shop.anonymous.request(
                .POST,
                "/api/v1/auth/token",
                json: #"{"email":"known@example.com","password":"not the password"}"#
            )
            let unknownEmail = try await shop.anonymous.request(
                .POST,
                "/api/v1/auth/token",
                json: #"{"email":"nobody@example.com","password":"not the password"}"#
            )
            let notAnEmail = try await shop.anonymous.request(
                .POST,
                "/api/v1/auth/token",
                json: #"{"email":"nobody","password":"not the password"}"#
            )
            for result in [wrongPassword, unknownEmail, notAnEmail] {
                #expect(result.status == 401)
                #expect(result.json?["error"]?["message"]?.string == "Email or password is incorrect")
                #expect(result.json?["error"]?["field"] == nil)
            }
        }
    }

    @Test func rolesDecideWhoSeesAndChangesWhom() async throws {
        try await TestServer.with { admin in
            let (adaID, ada) = try await admin.customer("ada@example.com")
            let (graceID, grace) = try await admin.customer("grace@example.com")

            let probe = try await ada.request(.GET, "/api/v1/users/\(graceID)")
            #expect(probe.status == 404, "another user's id looks missing to a customer")
            #expect(try await ada.request(.PATCH, "/api/v1/users/\(graceID)", json: #"{"name":"X"}"#).status == 404)
            #expect(try await ada.request(.DELETE, "/api/v1/users/\(graceID)").status == 404)
            #expect(try await ada.request(.GET, "/api/v1/users/\(graceID)/preferences").status == 404)
            let list = try await ada.request(.GET, "/api/v1/users")
            #expect(list.status == 403)
            #expect(list.json?["error"]?["code"]?.string == "FORBIDDEN")
            let promote = try await ada.request(.PATCH, "/api/v1/users/me", json: #"{"role":"admin"}"#)
            #expect(promote.status == 403)
            #expect(promote.json?["error"]?["field"]?.string == "role")
            #expect(try await ada.request(.GET, "/api/v1/users/me").json?["data"]?["role"]?.string == "customer")

            // An admin makes Grace staff; with a new token she reads everyone but changes no one else.
            let made = try await admin.request(.PATCH, "/api/v1/users/\(graceID)", json: #"{"role":"staff"}"#)
            #expect(made.json?["data"]?["role"]?.string == "staff")
            #expect(try await grace.request(.GET, "/api/v1/users").status == 401, "the role change ended the old token")
            let staff = admin.signedIn(as: try await admin.logIn("grace@example.com").access)
            #expect(try await staff.request(.GET, "/api/v1/users").status == 200)
            #expect(try await staff.request(.GET, "/api/v1/users/\(adaID)").status == 200)
            #expect(try await staff.request(.DELETE, "/api/v1/users/\(adaID)").status == 403)
            #expect(try await staff.request(.PATCH, "/api/v1/users/\(adaID)", json: #"{"role":"staff"}"#).status == 403)

            #expect(try await admin.request(.DELETE, "/api/v1/users/\(adaID)").status == 204)
            let gone = try await admin.anonymous.request(
                .POST,
                "/api/v1/auth/token",
                json: #"{"email":"ada@example.com","password":"\#(RunningShop.password)"}"#
            )
            #expect(gone.status == 401, "a deleted user cannot log in")
        }
    }

    @Test func preferencesAndPasswordChangesBelongToTheUser() async throws {
        try await TestServer.with { admin in
            let (_, ada) = try await admin.customer("ada@example.com")
            let defaults = try await ada.request(.GET, "/api/v1/users/me/preferences")
            #expect(
                defaults.json?["data"]
                    == .object([
                        "marketing_emails": .bool(false), "order_emails": .bool(true), "sms": .bool(false), "push": .bool(false),
                        "locale": .string("en"),
                    ])
            )
            let set = try await ada.request(
                .PUT,
                "/api/v1/users/me/preferences",
                json: #"{"marketing_emails":true,"order_emails":false,"sms":true,"push":false,"locale":"de-CH"}"#
            )
            #expect(set.status == 200)
            #expect(try await ada.request(.GET, "/api/v1/users/me/preferences").json?["data"] == set.json?["data"])
            let partial = try await ada.request(.PUT, "/api/v1/users/me/preferences", json: #"{"sms":true}"#)
            #expect(partial.status == 422)
            #expect(partial.json?["errors"]?.array?.compactMap { $0["field"]?.string } == ["marketing_emails", "order_emails", "push", "locale"])

            let session = try await admin.logIn("ada@example.com")
            let wrong = try await ada.request(
                .PUT,
                "/api/v1/users/me/password",
                json: #"{"current_password":"not mine at all","new_password":"a brand new secret"}"#
            )
            #expect(wrong.status == 422)
            #expect(wrong.json?["error"]?["field"]?.string == "current_password")
            let weak = try await ada.request(
                .PUT,
                "/api/v1/users/me/password",
                json: #"{"current_password":"\#(RunningShop.password)","new_password":"short"}"#
            )
            #expect(weak.json?["error"]?["field"]?.string == "new_password")
            let changed = try await ada.request(
                .PUT,
                "/api/v1/users/me/password",
                json: #"{"current_password":"\#(RunningShop.password)","new_password":"a brand new secret"}"#
            )
            #expect(changed.status == 204)
            #expect(try await admin.anonymous.request(.POST, "/api/v1/auth/refresh", json: #"{"refresh_token":"\#(session.refresh)"}"#).status == 401)
            await #expect(throws: UnexpectedResponse.self) { try await admin.logIn("ada@example.com") }
            _ = try await admin.logIn("ada@example.com", password: "a brand new secret")
        }
    }

    @Test func expiredTamperedUnsignedAndForeignTokensAreRefusedInTheEnvelope() async throws {
        try await TestServer.with { shop in
            let id = try await shop.createUser("ada@example.com")
            let keys = try SigningKeySet.loadOrCreate(path: try #require(shop.keysPath))
            let server = AccessTokens(keys: keys)
            let expired = try server.issue(userID: id, role: .admin, now: Date().addingTimeInterval(-3600)).token
            let foreign = try AccessTokens(keys: keys, audience: "another-api").issue(userID: id, role: .admin, now: Date()).token
            let good = try server.issue(userID: id, role: .customer, now: Date()).token
            let parts = good.split(separator: ".")
            let adminClaims = String(decoding: try #require(Base64URL.decode(parts[1])), as: UTF8.self)
                .replacingOccurrences(of: #""role":"customer""#, with: #""role":"admin""#)
            let tampered = "\(parts[0]).\(Base64URL.encode(Array(adminClaims.utf8))).\(parts[2])"
            let unsigned = "\(Base64URL.encode(Array(#"{"alg":"none","typ":"JWT"}"#.utf8))).\(Base64URL.encode(Array(adminClaims.utf8)))."
            let strangers = try AccessTokens(keys: SigningKeySet([SigningKey(.init())])).issue(userID: id, role: .admin, now: Date()).token

            #expect(try await shop.signedIn(as: good).request(.GET, "/api/v1/users/me").status == 200)
            for (name, token) in [
                ("expired", expired), ("wrong audience", foreign), ("tampered", tampered), ("alg none", unsigned), ("unknown key", strangers),
            ] {
                let result = try await shop.signedIn(as: token).request(.GET, "/api/v1/users/me")
                #expect(result.status == 401, "\(name)")
                #expect(result.json?["error"]?["code"]?.string == "UNAUTHENTICATED", "\(name)")
                #expect(result.json?["error"]?["request_id"]?.string == result.header("X-Request-ID"), "\(name)")
                #expect(result.header("WWW-Authenticate") == #"Bearer error="invalid_token""#, "\(name)")
            }
            let jwks = try await shop.request(.GET, "/.well-known/jwks.json")
            #expect(jwks.json?["keys"]?[0]?["kid"]?.string == keys.current.id)
        }
    }
}

/// The 101st request of a minute, for both rate-limit stores.
@Suite struct RateLimitEndToEndTests {
    private func exhaust(_ shop: RunningShop) async throws {
        for index in 1...100 {
            let result = try await shop.request(.GET, "/api/v1/users/me")
            guard result.status == 200 else { throw UnexpectedResponse(result: result) }
            if index == 1 {
                #expect(result.header("RateLimit-Policy") == #""default";q=100;w=60"#)
                #expect(result.header("RateLimit")?.hasPrefix(#""default";r=99;t="#) == true)
            }
        }
        let refused = try await shop.request(.GET, "/api/v1/users/me")
        #expect(refused.status == 429)
        #expect(refused.json?["error"]?["code"]?.string == "RATE_LIMITED")
        let retry = try #require(refused.header("Retry-After").flatMap(Int.init))
        #expect((1...60).contains(retry))
        #expect(refused.header("RateLimit") == #""default";r=0;t=\#(retry)"#)
    }

    @Test func theHundredAndFirstRequestIsRefusedInMemory() async throws {
        try await TestServer.with(environment: ["RATE_LIMIT": "100/60"]) { admin in
            try await exhaust(admin)
        }
    }

    @Test(.enabled(if: RedisServer.available))
    func theHundredAndFirstRequestIsRefusedWithRedis() async throws {
        let redis = try RedisServer()
        try await TestServer.with(environment: ["RATE_LIMIT": "100/60", "REDIS_URL": "redis://127.0.0.1:\(redis.port)"]) { admin in
            try await exhaust(admin)
        }
    }

    /// 120 requests at once against a limit of 50: exactly 50 pass, whatever the order.
    private func race(_ shop: RunningShop) async throws {
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<120 {
                group.addTask { try await shop.request(.GET, "/api/v1/users/me").status }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(statuses.filter { $0 == 200 }.count == 50, "\(statuses.sorted())")
        #expect(statuses.filter { $0 == 429 }.count == 70)
    }

    @Test func theLimitHoldsExactlyUnderParallelLoadInMemory() async throws {
        try await TestServer.with(environment: ["RATE_LIMIT": "50/60"]) { admin in
            try await race(admin)
        }
    }

    @Test(.enabled(if: RedisServer.available))
    func theLimitHoldsExactlyUnderParallelLoadOnRedis() async throws {
        let redis = try RedisServer()
        try await TestServer.with(environment: ["RATE_LIMIT": "50/60", "REDIS_URL": "redis://127.0.0.1:\(redis.port)"]) { admin in
            try await race(admin)
        }
    }

    /// A real Redis stopped behind the running server: failing open lets requests through,
    /// failing closed refuses them with 503; both recover when Redis is back.
    @Test(.enabled(if: RedisServer.available), arguments: [true, false])
    func aStoppedRedisFailsOpenOrClosedAsConfigured(_ failOpen: Bool) async throws {
        let redis = try RedisServer()
        let environment = ["REDIS_URL": "redis://127.0.0.1:\(redis.port)", "RATE_LIMIT_FAIL_OPEN": "\(failOpen)", "REDIS_TIMEOUT_MS": "500"]
        try await TestServer.with(environment: environment) { admin in
            #expect(try await admin.request(.GET, "/api/v1/users/me").status == 200)
            let ready = try await admin.request(.GET, "/health/ready")
            #expect(ready.status == 200)
            #expect(ready.json?["data"]?["checks"]?.array?.contains { $0["name"]?.string == "redis" && $0["status"]?.string == "up" } == true)
            redis.stop()
            // Redis is shared by every instance: its loss is shown, not made every instance's
            // unreadiness.
            let unreached = try await admin.request(.GET, "/health/ready")
            #expect(unreached.status == 200, "\(String(decoding: unreached.body, as: UTF8.self))")
            #expect(
                unreached.json?["data"]?["checks"]?.array?.contains { $0["name"]?.string == "redis" && $0["status"]?.string == "down" } == true
            )
            let during = try await admin.request(.GET, "/api/v1/users/me")
            #expect(try OpenAPIContractTests.problems(of: during, method: .GET, path: "/api/v1/users/me", limitStoreUp: false).isEmpty)
            if failOpen {
                #expect(during.status == 200)
                #expect(during.header("RateLimit-Policy") != nil, "the policy is still announced")
            } else {
                #expect(during.status == 503)
                #expect(during.json?["error"]?["code"]?.string == "UPSTREAM_UNAVAILABLE")
            }
            try redis.start()
            var after = 0
            for _ in 0..<100 {
                after = try await admin.request(.GET, "/api/v1/users/me").status
                if after == 200 { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(after == 200, "back once Redis is")
            // The restarted Redis lost the streams' consumer groups: consumers make them again.
            let id = try await admin.createUser("after-restart-\(failOpen)@example.com")
            var types: [String] = []
            for _ in 0..<200 where types.isEmpty {
                types =
                    try await admin.request(.GET, "/api/v1/audit-events?user_id=\(id)").json?["data"]?.array?.compactMap { $0["type"]?.string } ?? []
                if types.isEmpty { try await Task.sleep(for: .milliseconds(50)) }
            }
            #expect(types == ["user.registered"], "events flow again after the restart")
        }
    }

    @Test func loginsHaveTheirOwnStricterLimitPerAddress() async throws {
        try await TestServer.with(environment: ["RATE_LIMIT_CREDENTIALS": "3/60"]) { admin in
            // The admin's own login took one.
            var statuses: [Int] = []
            for _ in 0..<3 {
                statuses.append(
                    try await admin.anonymous.request(
                        .POST,
                        "/api/v1/auth/token",
                        json: #"{"email":"x@example.com","password":"whatever-it-is"}"#
                    ).status
                )
            }
            #expect(statuses == [401, 401, 429])
            #expect(try await admin.request(.GET, "/api/v1/users/me").status == 200, "other routes keep their own limit")
            let registered = try await admin.request(
                .POST,
                "/api/v1/users",
                json: #"{"email":"by-admin@example.com","name":"N","password":"\#(RunningShop.password)"}"#
            )
            #expect(registered.status == 201, "an admin registering users counts against their own limit")
            let anonymous = try await admin.anonymous.request(
                .POST,
                "/api/v1/users",
                json: #"{"email":"anon@example.com","name":"N","password":"\#(RunningShop.password)"}"#
            )
            #expect(anonymous.status == 429, "anonymous registrations share the address's credentials limit")
        }
    }
}
