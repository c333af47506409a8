import Foundation
import Hummingbird
import Platform
import Synchronization
import TestSupport
import Testing
import _CryptoExtras

@testable import NotificationService
@testable import shop

/// SMS and push over real HTTP on both engines: the shop talks to a local stand-in for an
/// SMS provider with Twilio's Messages API and a push service with FCM's HTTP v1 API (its
/// OAuth token endpoint included), as it would to the real ones.
@Suite struct SMSAndPushEndToEndTests {
    /// What the stand-in was sent, by path.
    final class Providers: Sendable {
        struct Received: Sendable {
            var path: String
            var authorization: String
            var body: String
        }

        let received = Mutex<[Received]>([])
        /// Device tokens the push service no longer knows.
        let unregistered = Mutex<Set<String>>([])

        func answer(_ request: Request) async throws -> Response {
            let body = String(buffer: try await request.body.collect(upTo: 1 << 20))
            let path = request.uri.path
            received.withLock {
                $0.append(Received(path: path, authorization: request.headers[.authorization] ?? "", body: body))
            }
            func json(_ status: HTTPResponse.Status, _ text: String) -> Response {
                Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
            }
            if path == "/token" { return json(.ok, #"{"access_token":"ya29.stand-in","expires_in":3599,"token_type":"Bearer"}"#) }
            if path.hasSuffix("/Messages.json") { return json(.created, #"{"sid":"SM\#(UUID().uuidString.prefix(8))","status":"queued"}"#) }
            if path.hasSuffix("/messages:send") {
                let token =
                    (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
                    .flatMap { $0["message"] as? [String: Any] }?["token"] as? String
                if let token, unregistered.withLock({ $0.contains(token) }) {
                    return json(
                        .notFound,
                        #"{"error":{"code":404,"message":"Requested entity was not found.","status":"NOT_FOUND","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"UNREGISTERED"}]}}"#
                    )
                }
                return json(.ok, #"{"name":"projects/shop-test/messages/0:1"}"#)
            }
            return json(.notFound, "{}")
        }

        func texts() -> [(to: String, body: String)] {
            received.withLock { list in
                list.filter { $0.path.hasSuffix("/Messages.json") }.map { request in
                    var fields: [String: String] = [:]
                    for pair in request.body.split(separator: "&") {
                        let parts = pair.split(separator: "=", maxSplits: 1).map {
                            String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
                        }
                        if parts.count == 2 { fields[parts[0]] = parts[1] }
                    }
                    return (fields["To"] ?? "", fields["Body"] ?? "")
                }
            }
        }

        func pushes() -> [[String: Any]] {
            received.withLock { list in
                list.filter { $0.path.hasSuffix("/messages:send") }.compactMap {
                    (try? JSONSerialization.jsonObject(with: Data($0.body.utf8)) as? [String: Any])?["message"] as? [String: Any]
                }
            }
        }

        func waitFor(_ what: String, _ done: @Sendable () -> Bool) async throws {
            for _ in 0..<400 where !done() { try await Task.sleep(for: .milliseconds(50)) }
            #expect(done(), "waited 20 s for \(what)")
        }
    }

    static func serviceAccount(tokenURI: String, in directory: URL) throws -> String {
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let account: [String: String] = [
            "type": "service_account", "project_id": "shop-test", "private_key_id": "key-1",
            "private_key": key.pkcs8PEMRepresentation, "client_email": "push@shop-test.iam.gserviceaccount.com",
            "token_uri": tokenURI,
        ]
        let file = directory.appendingPathComponent("push-account.json")
        try JSONSerialization.data(withJSONObject: account).write(to: file)
        return file.path
    }

    /// Settings that cannot work stop the start, named, before anything listens.
    @Test func providerSettingsThatCannotWorkStopTheStart() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("shop-push-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        func refusal(_ environment: [String: String]) -> String? {
            do {
                let settings = try Settings(environment: environment.merging(["DATA_DIR": directory.path]) { $1 }, service: .all)
                try NotificationService.check(try settings.notificationServiceSettings())
                return nil
            } catch {
                return "\(error)"
            }
        }
        #expect(refusal(["SMS_ACCOUNT_SID": "AC1"])?.contains("SMS_AUTH_TOKEN") == true)
        #expect(refusal(["SMS_ACCOUNT_SID": "AC1", "SMS_AUTH_TOKEN": "t", "SMS_FROM": "0151"])?.contains("SMS_ACCOUNT_SID") == true)
        #expect(
            refusal(["SMS_ACCOUNT_SID": "AC1", "SMS_AUTH_TOKEN": "t", "SMS_FROM": "+15550001111", "SMS_API_URL": "http://sms.example.com"]) != nil
        )
        #expect(refusal(["SMS_ACCOUNT_SID": "AC1", "SMS_AUTH_TOKEN": "t", "SMS_FROM": "+15550001111"]) == nil)
        #expect(refusal(["PUSH_CREDENTIALS_FILE": directory.appendingPathComponent("missing.json").path])?.contains("PUSH_CREDENTIALS_FILE") == true)
        let junk = directory.appendingPathComponent("junk.json")
        try Data(#"{"type":"service_account"}"#.utf8).write(to: junk)
        #expect(refusal(["PUSH_CREDENTIALS_FILE": junk.path])?.contains("PUSH_CREDENTIALS_FILE") == true)
        let account = try Self.serviceAccount(tokenURI: "https://oauth2.googleapis.com/token", in: directory)
        #expect(refusal(["PUSH_CREDENTIALS_FILE": account]) == nil)
        #expect(refusal(["PUSH_CREDENTIALS_FILE": account, "PUSH_API_URL": "http://fcm.example.com"])?.contains("PUSH_API_URL") == true)
    }

    @Test(arguments: TestDatabases.kinds())
    func aShippedOrderReachesTheVerifiedPhoneAndEveryRegisteredDevice(_ engine: DatabaseKind) async throws {
        let providers = Providers()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("shop-push-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try await withLocalHTTPServer(label: "providers", { try await providers.answer($0) }) { port in
            let base = "http://127.0.0.1:\(port)"
            let environment = [
                "NOTIFICATIONS_POLL_MS": "50",
                "NOTIFICATIONS_SECRET": "notifications-secret-for-tests-0123456789",
                "SHOP_NAME": "Test Shop",
                "SMS_ACCOUNT_SID": "AC0123456789abcdef0123456789abcdef",
                "SMS_AUTH_TOKEN": "sms-auth-token-for-tests",
                "SMS_FROM": "+15550001111",
                "SMS_API_URL": base,
                "PUSH_CREDENTIALS_FILE": try Self.serviceAccount(tokenURI: base + "/token", in: directory),
                "PUSH_API_URL": base,
            ]
            try await TestServer.withEveryDatabase(on: engine, environment: environment) { admin in
                let lamp = try await OrdersEndToEndTests.product(admin, "lamp-sms", price: 4900, stock: 5)
                let (anna, shop) = try await admin.customer("anna-sms@example.com")
                let choices = #"{"marketing_emails":false,"order_emails":true,"sms":true,"push":true,"locale":"en"}"#
                #expect(try await shop.request(.PUT, "/api/v1/users/\(anna)/preferences", json: choices).status == 200)

                // The number gets a code from the provider; only that code verifies it.
                let set = try await shop.request(.PUT, "/api/v1/users/me/phone", json: #"{"phone_number":"+49 151 2345 6789"}"#)
                #expect(set.status == 202)
                #expect(set.json?["data"]?["verified"] == .bool(false))
                try await providers.waitFor("the code's SMS") { !providers.texts().isEmpty }
                let codeText = try #require(providers.texts().first)
                #expect(codeText.to == "+4915123456789")
                let code = try #require(codeText.body.split(separator: " ").map(String.init).first { $0.count == 6 && $0.allSatisfy(\.isNumber) })
                let verified = try await shop.request(.POST, "/api/v1/users/me/phone/verification", json: #"{"code":"\#(code)"}"#)
                #expect(verified.status == 200)
                #expect(verified.json?["data"]?["verified"] == .bool(true))
                #expect(providers.received.withLock { $0.first?.authorization }?.hasPrefix("Basic ") == true)

                // Two devices; the push service has forgotten the second.
                let phone = try await shop.request(
                    .POST,
                    "/api/v1/users/me/devices",
                    json: #"{"token":"fcm-token-phone-0123456789","platform":"android"}"#
                )
                #expect(phone.status == 201)
                let old = try await shop.request(
                    .POST,
                    "/api/v1/users/me/devices",
                    json: #"{"token":"fcm-token-old-tablet-012345","platform":"ios"}"#
                )
                #expect(old.status == 201)
                providers.unregistered.withLock { _ = $0.insert("fcm-token-old-tablet-012345") }

                #expect(try await shop.request(.PUT, "/api/v1/cart/lines/\(lamp)", json: #"{"quantity":1}"#).status == 200)
                let placed = try await shop.request(
                    .POST,
                    "/api/v1/orders",
                    headers: [("Idempotency-Key", "sms-order-1")],
                    json: OrdersEndToEndTests.checkout(card: "pm_card_visa")
                )
                #expect(placed.status == 201)
                let order = try #require(placed.json?["data"]?["id"]?.string)
                #expect(try await admin.request(.POST, "/api/v1/orders/\(order)/ship", json: #"{"tracking_number":"1Z999"}"#).status == 200)

                try await providers.waitFor("the shipping SMS") { providers.texts().contains { $0.body.contains("on its way") } }
                let shipping = providers.texts().filter { $0.body.contains("on its way") }
                #expect(shipping.map(\.to) == ["+4915123456789"])
                #expect(shipping.first?.body == "Test Shop: order \(order) is on its way. Tracking: 1Z999")
                try await providers.waitFor("the shipping push") {
                    providers.pushes().contains { ($0["notification"] as? [String: String])?["title"] == "On its way" }
                }
                try await providers.waitFor("both pushes to the phone") {
                    providers.pushes().filter { ($0["token"] as? String) == "fcm-token-phone-0123456789" }.count >= 2
                }
                let delivered = providers.pushes().filter { ($0["token"] as? String) == "fcm-token-phone-0123456789" }
                if delivered.count < 2 {
                    let log = try await admin.request(.GET, "/api/v1/notifications?channel=push")
                    Issue.record("the push log: \(String(decoding: log.body, as: UTF8.self))")
                }
                #expect(Set(delivered.compactMap { ($0["notification"] as? [String: String])?["title"] }) == ["Order confirmed", "On its way"])
                #expect(delivered.allSatisfy { ($0["data"] as? [String: String])?["order_id"] == order })
                #expect(providers.received.withLock { $0.filter { $0.path == "/token" }.count } == 1, "one access token for every push")
                let sends = providers.received.withLock { $0.filter { $0.path.hasSuffix("/messages:send") } }
                #expect(sends.allSatisfy { $0.authorization == "Bearer ya29.stand-in" })

                // The forgotten token is forgotten here too.
                var devices = try await shop.request(.GET, "/api/v1/users/me/devices")
                for _ in 0..<100 where devices.json?["data"]?.array?.count != 1 {
                    try await Task.sleep(for: .milliseconds(100))
                    devices = try await shop.request(.GET, "/api/v1/users/me/devices")
                }
                #expect(devices.json?["data"]?.array?.compactMap { $0["token_suffix"]?.string } == ["456789"])
                // And the delivery log shows every channel.
                var log = try await shop.request(.GET, "/api/v1/users/me/notifications?per_page=50")
                for _ in 0..<100
                where log.json?["data"]?.array?.contains(where: { $0["status"]?.string == "sending" || $0["status"]?.string == "queued" }) != false {
                    try await Task.sleep(for: .milliseconds(100))
                    log = try await shop.request(.GET, "/api/v1/users/me/notifications?per_page=50")
                }
                let channels = Set(log.json?["data"]?.array?.compactMap { $0["channel"]?.string } ?? [])
                #expect(channels == ["email", "sms", "push"])
            }
        }
    }
}
