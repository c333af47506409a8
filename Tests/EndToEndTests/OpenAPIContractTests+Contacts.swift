import Foundation
import Hummingbird
import NIOCore
import NIOHTTP1
import TestSupport
import Testing

extension OpenAPIContractTests {
    /// `/api/v1/users/{id}/phone` and `/api/v1/users/{id}/devices`: a number refused, set,
    /// verified with the code the shop wrote to its SMS outbox (after five wrong codes spent
    /// the first one), kept, removed, and no more than five codes an hour; devices
    /// registered, seen again, capped at ten, moved to another user and forgotten; and, on a
    /// second shop, the verification with no code pending. Each documented answer at least once.
    func exerciseContacts(_ admin: RunningShop, staff: RunningShop, oversize: String, call: ContractCall) async throws {
        func check(
            as shop: RunningShop? = nil,
            _ method: NIOHTTP1.HTTPMethod,
            _ path: String,
            json: String? = nil
        ) async throws -> HTTPResult {
            try await call(shop, method, path, json, [])
        }
        let anonymous = admin.anonymous
        let (customerID, customer) = try await admin.customer("reachable@contract.example.com")
        let (_, stranger) = try await admin.customer("curious@contract.example.com")

        // A phone number: none yet, then refused, then set with a code on its way.
        let phone = "/api/v1/users/me/phone"
        let theirPhone = "/api/v1/users/\(customerID)/phone"
        let verification = "\(phone)/verification"
        let number = "+41795550123"
        let typed = #"{"phone_number":"+41 79 555 01 23","locale":"de-CH"}"#
        #expect(try await check(as: customer, .GET, phone).status == 404)
        #expect(try await check(as: customer, .DELETE, phone).status == 404)
        #expect(try await check(as: customer, .POST, verification, json: #"{"code":"123456"}"#).status == 404)
        let invalid = try await check(as: customer, .PUT, phone, json: #"{"phone_number":"079 555 01 23","locale":"x"}"#)
        #expect(Self.fields(of: invalid) == ["locale", "phone_number"])
        let unknown = try await check(as: customer, .PUT, phone, json: #"{"phone_number":"\#(number)","extension":"12"}"#)
        #expect(Self.fields(of: unknown) == ["extension"])
        _ = try await check(as: customer, .PUT, phone, json: "{")
        _ = try await check(as: customer, .PUT, phone, json: oversize)
        _ = try await check(.PUT, "/api/v1/users/x/phone", json: typed)
        _ = try await check(as: staff, .PUT, theirPhone, json: typed)
        _ = try await check(as: stranger, .PUT, theirPhone, json: typed)
        _ = try await check(as: anonymous, .PUT, phone, json: typed)
        let set = try await check(as: customer, .PUT, phone, json: typed)
        #expect(set.status == 202)
        #expect(set.json?["data"]?["phone_number"]?.string == number)
        #expect(set.json?["data"]?["verified"] == .bool(false))
        let unverified = try await check(as: staff, .GET, theirPhone)
        #expect(unverified.json?["data"]?["verified"] == .bool(false))
        _ = try await check(as: stranger, .GET, theirPhone)
        _ = try await check(as: anonymous, .GET, phone)
        _ = try await check(.GET, "/api/v1/users/0/phone")

        // Verification: five wrong codes spend the first one, so that even it is refused;
        // the number set again gets a second code, which verifies it.
        let first = try #require(try await Self.smsCodes(admin, to: number, moreThan: 0).last)
        let malformed = try await check(as: customer, .POST, verification, json: #"{"code":"12345"}"#)
        #expect(Self.fields(of: malformed) == ["code"])
        _ = try await check(as: customer, .POST, verification, json: "{")
        _ = try await check(as: customer, .POST, verification, json: oversize)
        _ = try await check(as: staff, .POST, "\(theirPhone)/verification", json: #"{"code":"\#(first)"}"#)
        _ = try await check(as: stranger, .POST, "\(theirPhone)/verification", json: #"{"code":"\#(first)"}"#)
        _ = try await check(as: anonymous, .POST, verification, json: #"{"code":"\#(first)"}"#)
        for _ in 1...5 {
            let wrong = try await check(as: customer, .POST, verification, json: #"{"code":"\#(Self.another(first))"}"#)
            #expect(wrong.status == 422)
            #expect(Self.fields(of: wrong) == ["code"])
        }
        let spent = try await check(as: customer, .POST, verification, json: #"{"code":"\#(first)"}"#)
        #expect(spent.status == 422)
        #expect(try await check(as: customer, .PUT, phone, json: #"{"phone_number":"\#(number)"}"#).status == 202)
        let second = try #require(try await Self.smsCodes(admin, to: number, moreThan: 1).last)
        let verified = try await check(as: customer, .POST, verification, json: #"{"code":"\#(second)"}"#)
        #expect(verified.status == 200)
        #expect(verified.json?["data"]?["verified"] == .bool(true))
        #expect(verified.json?["data"]?["verified_at"]?.string != nil)
        let kept = try await check(as: customer, .PUT, phone, json: typed)
        #expect(kept.status == 200)
        #expect(kept.json?["data"]?["verified"] == .bool(true))
        // The codes are in the user's delivery log, as the document describes it.
        let log = try await check(as: customer, .GET, "/api/v1/users/me/notifications?kind=phone_verification")
        #expect(log.status == 200)
        #expect(log.json?["data"]?.array?.count == 2)
        #expect(
            log.json?["data"]?.array?.allSatisfy { $0["event_type"]?.string == "phone.verification_requested" && $0["channel"]?.string == "sms" }
                == true
        )

        // Removal: the user's or an admin's to make.
        _ = try await check(as: staff, .DELETE, theirPhone)
        _ = try await check(as: stranger, .DELETE, theirPhone)
        _ = try await check(as: anonymous, .DELETE, phone)
        _ = try await check(.DELETE, "/api/v1/users/x/phone")
        #expect(try await check(.DELETE, theirPhone).status == 204)
        #expect(try await check(as: customer, .GET, phone).status == 404)

        // Five codes an hour to one user, whatever the numbers and removals in between.
        let (_, chatty) = try await admin.customer("chatty@contract.example.com")
        for index in 1...5 {
            #expect(try await check(as: chatty, .PUT, phone, json: #"{"phone_number":"+44790000000\#(index)"}"#).status == 202)
        }
        #expect(try await check(as: chatty, .DELETE, phone).status == 204)
        let limited = try await check(as: chatty, .PUT, phone, json: #"{"phone_number":"+447900000009"}"#)
        #expect(limited.status == 429)
        #expect(limited.json?["error"]?["code"]?.string == "RATE_LIMITED")
        #expect((Int(limited.header("Retry-After") ?? "") ?? 0) > 3000)

        // Devices: registered, seen again, refused.
        let devices = "/api/v1/users/me/devices"
        let theirDevices = "/api/v1/users/\(customerID)/devices"
        func device(_ token: String, _ platform: String = "android") -> String {
            #"{"token":"\#(token)","platform":"\#(platform)"}"#
        }
        let token = "contract-token:APA91b.first"
        #expect(try await check(as: customer, .GET, devices).json?["data"] == .array([]))
        let registered = try await check(as: customer, .POST, devices, json: device(token))
        #expect(registered.status == 201)
        let firstDevice = try #require(registered.json?["data"]?["id"]?.string)
        #expect(registered.header("Location") == "\(theirDevices)/\(firstDevice)")
        #expect(registered.json?["data"]?["token_suffix"]?.string == ".first")
        let seen = try await check(as: customer, .POST, devices, json: device(token, "web"))
        #expect(seen.status == 200)
        #expect(seen.json?["data"]?["id"]?.string == firstDevice)
        #expect(seen.json?["data"]?["platform"]?.string == "web")
        let refused = try await check(as: customer, .POST, devices, json: device("short", "blackberry"))
        #expect(Self.fields(of: refused) == ["platform", "token"])
        _ = try await check(as: customer, .POST, devices, json: "{")
        _ = try await check(as: customer, .POST, devices, json: oversize)
        _ = try await check(.POST, "/api/v1/users/x/devices", json: device(token))
        _ = try await check(as: staff, .POST, theirDevices, json: device(token))
        _ = try await check(as: stranger, .POST, theirDevices, json: device(token))
        _ = try await check(as: anonymous, .POST, devices, json: device(token))

        // Ten at most: the eleventh forgets the one seen longest ago. A token registered by
        // another user moves to them.
        var ten: [String] = []
        for index in 1...10 {
            let made = try await check(.POST, theirDevices, json: device("contract-token:APA91b.\(index)", "ios"))
            #expect(made.status == 201)
            ten.append(try #require(made.json?["data"]?["id"]?.string))
        }
        let listed = try await check(as: staff, .GET, theirDevices)
        #expect(listed.json?["data"]?.array?.compactMap { $0["id"]?.string } == ten)
        let moved = try await check(as: stranger, .POST, devices, json: device("contract-token:APA91b.10", "ios"))
        #expect(moved.status == 200)
        let movedID = try #require(ten.last)
        #expect(moved.json?["data"]?["id"]?.string == movedID)
        #expect(try await check(as: customer, .GET, devices).json?["data"]?.array?.count == 9)
        _ = try await check(as: stranger, .GET, theirDevices)
        _ = try await check(as: anonymous, .GET, devices)
        _ = try await check(.GET, "/api/v1/users/x/devices")

        // Forgetting one.
        let gone = "\(devices)/\(ten[0])"
        _ = try await check(as: staff, .DELETE, "\(theirDevices)/\(ten[0])")
        _ = try await check(as: stranger, .DELETE, "\(theirDevices)/\(ten[0])")
        _ = try await check(as: anonymous, .DELETE, gone)
        _ = try await check(.DELETE, "/api/v1/users/x/devices/\(ten[0])")
        #expect(try await check(as: customer, .DELETE, gone).status == 204)
        #expect(try await check(as: customer, .DELETE, gone).status == 404)
        #expect(try await check(as: customer, .DELETE, "\(devices)/\(movedID)").status == 404)
        #expect(try await check(as: stranger, .DELETE, "\(devices)/\(movedID)").status == 204)
        #expect(try await check(as: customer, .DELETE, "\(devices)/" + String(repeating: "d", count: 65)).status == 404)

        // The number set again once verified sent nothing: two codes in all.
        #expect(try await Self.smsCodes(admin, to: number, moreThan: 0).count == 2)

        try await exerciseStoppedPhone(call: call)
    }

    /// The answer a shop without an SMS provider cannot give: a verification with no code
    /// pending, as after a verified number replied STOP. A second shop sends its SMS through
    /// a fake Twilio that takes the code, then refuses every later message as Twilio does
    /// for a number that unsubscribed (error 21610); a declined payment sends one.
    private func exerciseStoppedPhone(call: ContractCall) async throws {
        let twilio = StoppingTwilio()
        try await withLocalHTTPServer(label: "contract-twilio") { request in
            let (status, answer) = await twilio.answer(String(buffer: try await request.body.collect(upTo: 1 << 16)))
            return Response(
                status: .init(code: status),
                headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: answer))
            )
        } _: { port in
            let environment = Self.notificationsEnvironment.merging([
                "SMS_ACCOUNT_SID": "AC00000000000000000000000000000000", "SMS_AUTH_TOKEN": "contract-auth-token",
                "SMS_FROM": "+15005550006", "SMS_API_URL": "http://127.0.0.1:\(port)",
            ]) { $1 }
            try await Self.withSecondShop(environment: environment) { admin in
                let (_, customer) = try await admin.customer("stopped@contract.example.com")
                let choices = #"{"marketing_emails":false,"order_emails":true,"sms":true,"push":false,"locale":"en"}"#
                #expect(try await customer.request(.PUT, "/api/v1/users/me/preferences", json: choices).status == 200)
                let phone = "/api/v1/users/me/phone"
                let number = #"{"phone_number":"+447700900123"}"#
                #expect(try await call(customer, .PUT, phone, number, []).status == 202)
                let code = try #require(try await Self.awaited("the code's SMS") { await twilio.code })
                let verified = try await call(customer, .POST, "\(phone)/verification", #"{"code":"\#(code)"}"#, [])
                #expect(verified.json?["data"]?["verified"] == .bool(true))

                let product = try await OrdersEndToEndTests.product(admin, "contract-stopped", price: 700, stock: 2)
                #expect(try await customer.request(.PUT, "/api/v1/cart/lines/\(product)", json: #"{"quantity":1}"#).status == 200)
                let declined = try await customer.request(
                    .POST,
                    "/api/v1/orders",
                    headers: [("Idempotency-Key", "contract-stopped")],
                    json: OrdersEndToEndTests.checkout(card: "pm_card_chargeDeclined")
                )
                #expect(declined.status == 402)
                let stopped = try await Self.awaited("the number's STOP") {
                    try await customer.request(.GET, phone).json?["data"]?["stopped"] == .bool(true) ? true : nil
                }
                #expect(stopped == true)

                let noCode = try await call(customer, .POST, "\(phone)/verification", #"{"code":"\#(code)"}"#, [])
                #expect(noCode.status == 409)
                #expect(noCode.json?["error"]?["code"]?.string == "CONFLICT")
                let again = try await call(customer, .PUT, phone, number, [])
                #expect(again.status == 202)
                #expect(again.json?["data"]?["stopped"] == .bool(false))
            }
        }
    }

    /// Runs another shop with `environment` while `body` runs. `body` is not `@Sendable` (it
    /// holds the contract's call), so the shop runs in a child task that hands it over.
    private static func withSecondShop(environment: [String: String], _ body: (RunningShop) async throws -> Void) async throws {
        let (shops, handOver) = AsyncStream<RunningShop>.makeStream()
        let (done, finish) = AsyncStream<Void>.makeStream()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                defer { handOver.finish() }
                try await TestServer.with(environment: environment) { shop in
                    handOver.yield(shop)
                    for await _ in done {}
                }
            }
            var iterator = shops.makeAsyncIterator()
            guard let shop = await iterator.next() else {
                try await group.waitForAll()
                throw ServerDidNotStart()
            }
            var failure: (any Error)?
            do {
                try await body(shop)
            } catch {
                failure = error
            }
            finish.finish()
            try await group.waitForAll()
            if let failure { throw failure }
        }
    }

    /// The codes of the SMS to `number` that `shop`, which runs without an SMS provider,
    /// wrote to its `outbox-sms` folder, oldest first, once there are more than `known`.
    private static func smsCodes(_ shop: RunningShop, to number: String, moreThan known: Int) async throws -> [String] {
        let folder = URL(fileURLWithPath: try #require(shop.dataDirectory)).appendingPathComponent("outbox-sms")
        let codes = try await awaited("an SMS to \(number) after \(known)") { () throws -> [String]? in
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
            let codes = try names.filter { $0.hasSuffix(".txt") && !$0.hasPrefix(".") }.sorted().compactMap { name -> String? in
                let text = try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
                guard text.hasPrefix("To: \(number)\n"), let blank = text.range(of: "\n\n") else { return nil }
                return verificationCode(in: text[blank.upperBound...])
            }
            return codes.count > known ? codes : nil
        }
        return codes ?? []
    }

    /// What `value` gives once it is not nil, asked every 50 ms for up to 20 s.
    private static func awaited<Value>(_ what: String, _ value: () async throws -> Value?) async throws -> Value? {
        for _ in 0..<400 {
            if let found = try await value() { return found }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("\(what) did not come within 20 s")
        return nil
    }

    /// Six digits that are not `code`: its first digit moved on by one.
    private static func another(_ code: String) -> String {
        String(((code.first?.wholeNumberValue ?? 0) + 1) % 10) + code.dropFirst()
    }

    /// The fields an error answer names, sorted.
    private static func fields(of result: HTTPResult) -> [String] {
        result.json?["errors"]?.array?.compactMap { $0["field"]?.string }.sorted() ?? []
    }
}

/// The first run of exactly six digits in `text`: the code of a verification SMS.
private func verificationCode(in text: Substring) -> String? {
    text.split(whereSeparator: { !("0"..."9").contains($0) }).first { $0.count == 6 }.map(String.init)
}

/// Twilio as the second shop meets it: the first message (the code) is taken; every later
/// one is refused as Twilio refuses a number that replied STOP.
private actor StoppingTwilio {
    /// The code in the first message, once it came.
    private(set) var code: String?
    private var messages = 0

    /// The status and JSON answer to a message sent as the form `form`.
    func answer(_ form: String) -> (status: Int, body: String) {
        messages += 1
        guard messages == 1 else {
            return (400, #"{"code":21610,"message":"Attempt to send to unsubscribed recipient","status":400}"#)
        }
        let body = form.split(separator: "&").first { $0.hasPrefix("Body=") }?.dropFirst("Body=".count)
        code = body?.replacingOccurrences(of: "+", with: " ").removingPercentEncoding.flatMap { verificationCode(in: $0[...]) }
        return (201, #"{"sid":"SM00000000000000000000000000000001","status":"queued"}"#)
    }
}
