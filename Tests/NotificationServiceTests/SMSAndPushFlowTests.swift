import Foundation
import OrderAPI
import PaymentAPI
import Platform
import TestSupport
import Testing
import UserAPI

@testable import NotificationService

/// SMS and push from event to delivery log, against real SQLite and PostgreSQL: a number
/// is used only once its owner typed in the code sent to it, each device gets its own
/// push, the channel's preference is honoured, and a number that says STOP or a token the
/// push service forgot is not written to again.
@Suite struct SMSAndPushFlowTests {
    static let kinds = TestDatabases.kinds()

    /// Registers user 7 with SMS and push turned on (or not), in `locale`.
    private func customer(_ harness: NotificationHarness, sms: Bool = true, push: Bool = true, locale: String = "en") async throws {
        try await harness.deliver(UserRegistered(userID: 7, email: "anna@example.com", name: "Anna", role: "customer"))
        try await harness.deliver(
            UserPreferencesChanged(userID: 7, marketingEmails: false, orderEmails: true, sms: sms, push: push, locale: locale)
        )
    }

    /// Sets user 7's number and types in the code the SMS carried.
    private func verifiedPhone(_ harness: NotificationHarness, _ number: String = "+4915112345678") async throws {
        let (_, sent) = try await harness.contacts.setPhone(userID: 7, number: try PhoneNumber(number), locale: nil, at: Date())
        #expect(sent)
        try await harness.dispatcher.dispatchDue()
        let code = try #require(harness.sms.sent.last.flatMap { Self.code(in: $0.body) })
        let outcome = try await harness.contacts.verify(userID: 7, code: code, codes: NotificationHarness.codes, at: Date())
        guard case .verified(let phone) = outcome else {
            Issue.record("the code from the SMS did not verify: \(outcome)")
            return
        }
        #expect(phone.number == number)
    }

    private static func code(in body: String) -> String? {
        body.split(separator: " ").map(String.init).first { $0.count == 6 && $0.allSatisfy(\.isNumber) }
    }

    private func shipped(customerID: Int64? = 7) -> OrderShipped {
        var order = NotificationHarness.order(customerID: customerID, email: "anna@example.com")
        order.trackingNumber = "1Z999"
        order.carrier = "UPS"
        return OrderShipped(order)
    }

    @Test(arguments: kinds)
    func aCodeIsSentToTheNumberAndOnlyTheRightOneVerifiesIt(kind: DatabaseKind) async throws {
        try await NotificationHarness.with(kind) { harness in
            try await customer(harness, locale: "de")
            _ = try await harness.contacts.setPhone(userID: 7, number: try PhoneNumber("+49 151 1234-5678"), locale: nil, at: Date())
            try await harness.dispatcher.dispatchDue()

            let message = try #require(harness.sms.sent.first)
            #expect(message.to == "+4915112345678")
            // In the user's language, from their copy.
            #expect(message.body.contains("ist Ihr Bestätigungscode für Test Shop"))
            let code = try #require(Self.code(in: message.body))
            // The code is nowhere in the database: only a nonce is.
            let stored = try await harness.all()
            #expect(stored.filter { $0.kind == "phone_verification" }.count == 1)
            #expect(stored.allSatisfy { !$0.data.contains(code) })

            let wrong = code == "000000" ? "111111" : "000000"
            let miss = try await harness.contacts.verify(userID: 7, code: wrong, codes: NotificationHarness.codes, at: Date())
            #expect(miss == .wrongCode(attemptsLeft: VerificationCode.maximumAttempts - 1))
            #expect(try await harness.contacts.phone(userID: 7)?.usable == false)
            let hit = try await harness.contacts.verify(userID: 7, code: code, codes: NotificationHarness.codes, at: Date())
            guard case .verified(let phone) = hit else {
                Issue.record("the right code did not verify: \(hit)")
                return
            }
            #expect(phone.usable)
            // Setting the verified number again sends nothing.
            let (_, again) = try await harness.contacts.setPhone(userID: 7, number: try PhoneNumber("+4915112345678"), locale: nil, at: Date())
            #expect(!again)
        }
    }

    @Test(arguments: kinds)
    func codesExpireRunOutOfAttemptsAndAreLimitedPerHour(kind: DatabaseKind) async throws {
        try await NotificationHarness.with(kind) { harness in
            try await customer(harness)
            let now = Date()
            let number = try PhoneNumber("+4915112345678")
            _ = try await harness.contacts.setPhone(userID: 7, number: number, locale: nil, at: now)
            try await harness.dispatcher.dispatchDue()
            let code = try #require(harness.sms.sent.last.flatMap { Self.code(in: $0.body) })
            let codes = NotificationHarness.codes

            // Expired: even the right code is refused.
            let late = now.addingTimeInterval(VerificationCode.lifetime + 1)
            #expect(try await harness.contacts.verify(userID: 7, code: code, codes: codes, at: late) == .expired)

            // Five misses, then not even the right code.
            let wrong = code == "000000" ? "111111" : "000000"
            for left in (0..<VerificationCode.maximumAttempts).reversed() {
                #expect(try await harness.contacts.verify(userID: 7, code: wrong, codes: codes, at: now) == .wrongCode(attemptsLeft: left))
            }
            #expect(try await harness.contacts.verify(userID: 7, code: code, codes: codes, at: now) == .tooManyAttempts)

            // Five codes an hour, counted across removing the number; the sixth waits.
            for _ in 1..<VerificationCode.maximumSends {
                _ = try await harness.contacts.setPhone(userID: 7, number: number, locale: nil, at: now)
            }
            #expect(try await harness.contacts.deletePhone(userID: 7, at: now))
            await #expect(throws: ContactStore.PhoneFailure.self) {
                _ = try await harness.contacts.setPhone(userID: 7, number: number, locale: nil, at: now)
            }
            let (_, sentLater) = try await harness.contacts.setPhone(
                userID: 7,
                number: number,
                locale: nil,
                at: now.addingTimeInterval(VerificationCode.sendWindow + 1)
            )
            #expect(sentLater)
            // A code replaced by a newer one is never sent.
            try await harness.dispatcher.dispatchDue()
            let dead = try await harness.all().filter { $0.status == .dead }
            #expect(dead.count == VerificationCode.maximumSends - 1)
            #expect(dead.allSatisfy { $0.lastError?.contains("replaced") == true })
        }
    }

    @Test(arguments: kinds)
    func aShippedOrderGoesBySMSToTheVerifiedNumberAndByPushToEveryDevice(kind: DatabaseKind) async throws {
        try await NotificationHarness.with(kind) { harness in
            try await customer(harness)
            try await verifiedPhone(harness)
            let phone = try await harness.contacts.register(userID: 7, token: "phone-token-aaaaaaaaaaaa", platform: .android, at: Date())
            let tablet = try await harness.contacts.register(userID: 7, token: "tablet-token-bbbbbbbbbbb", platform: .ios, at: Date())
            #expect(phone.created && tablet.created)

            let event = try await harness.deliver(shipped())
            try await harness.deliver(shipped(), id: event.id)
            try await harness.dispatcher.dispatchDue()

            let texts = harness.sms.sent.filter { $0.body.contains("on its way") }
            #expect(texts.map(\.to) == ["+4915112345678"])
            #expect(texts.first?.body == "Test Shop: order ord_000000000000000000000001 is on its way. Tracking: 1Z999 (UPS)")
            let pushes = harness.push.sent
            #expect(pushes.map(\.deviceToken).sorted() == ["phone-token-aaaaaaaaaaaa", "tablet-token-bbbbbbbbbbb"])
            #expect(
                pushes.allSatisfy { $0.title == "On its way" && $0.data == ["kind": "order_shipped", "order_id": "ord_000000000000000000000001"] }
            )
            #expect(harness.mail.sent.filter { $0.subject.contains("on its way") }.count == 1)
        }
    }

    @Test(arguments: kinds)
    func channelsTurnedOffUnverifiedNumbersAndGuestsGetNoSMSOrPush(kind: DatabaseKind) async throws {
        try await NotificationHarness.with(kind) { harness in
            try await customer(harness, sms: false, push: false)
            try await verifiedPhone(harness)
            _ = try await harness.contacts.register(userID: 7, token: "phone-token-aaaaaaaaaaaa", platform: .android, at: Date())
            let beforeOrders = harness.sms.sent.count

            try await harness.deliver(shipped())
            try await harness.deliver(OrderConfirmed(NotificationHarness.order("ord_000000000000000000000002", email: "guest@example.com")))
            try await harness.dispatcher.dispatchDue()
            #expect(harness.sms.sent.count == beforeOrders)
            #expect(harness.push.sent.isEmpty)

            // Turned on, but the number was changed and not verified yet: push only.
            try await harness.deliver(
                UserPreferencesChanged(userID: 7, marketingEmails: false, orderEmails: true, sms: true, push: true, locale: "en")
            )
            _ = try await harness.contacts.setPhone(userID: 7, number: try PhoneNumber("+4915199999999"), locale: nil, at: Date())
            var order = NotificationHarness.order("ord_000000000000000000000003", customerID: 7, email: "anna@example.com")
            order.trackingNumber = "1Z1"
            try await harness.deliver(OrderShipped(order))
            try await harness.dispatcher.dispatchDue()
            #expect(!harness.sms.sent.contains { $0.body.contains("ord_000000000000000000000003") })
            #expect(harness.push.sent.count == 1)
        }
    }

    @Test(arguments: kinds)
    func aNumberThatSaysStopAndATokenThePushServiceForgotAreNotWrittenToAgain(kind: DatabaseKind) async throws {
        try await NotificationHarness.with(kind) { harness in
            try await customer(harness)
            try await verifiedPhone(harness)
            let device = try await harness.contacts.register(userID: 7, token: "phone-token-aaaaaaaaaaaa", platform: .android, at: Date())
            harness.sms.fail(with: [.gone("21610 unsubscribed recipient")])
            harness.push.fail(with: [.gone("404 UNREGISTERED")])

            try await harness.deliver(shipped())
            try await harness.dispatcher.dispatchDue()
            #expect(try await harness.contacts.phone(userID: 7)?.stoppedAt != nil)
            #expect(try await harness.contacts.device(id: device.device.id) == nil)
            let failed = try await harness.all().filter { $0.channel == .sms || $0.channel == .push }.filter { $0.kind == "order_shipped" }
            #expect(failed.count == 2)
            #expect(failed.allSatisfy { $0.status == .dead })

            var order = NotificationHarness.order("ord_000000000000000000000004", customerID: 7, email: "anna@example.com")
            order.trackingNumber = "1Z2"
            try await harness.deliver(OrderShipped(order))
            let later = try await harness.all().filter { $0.orderID == "ord_000000000000000000000004" }
            #expect(later.map(\.channel) == [.email])
        }
    }

    @Test(arguments: kinds)
    func aTransientFailureIsRetriedAndAPushToARemovedDeviceIsNotSent(kind: DatabaseKind) async throws {
        try await NotificationHarness.with(kind) { harness in
            try await customer(harness)
            let device = try await harness.contacts.register(userID: 7, token: "phone-token-aaaaaaaaaaaa", platform: .web, at: Date())
            harness.push.fail(with: [.transient("503 UNAVAILABLE")])
            try await harness.deliver(OrderConfirmed(NotificationHarness.order(customerID: 7, email: "anna@example.com")))
            try await harness.dispatcher.dispatchDue()
            try await harness.dispatcher.dispatchDue()
            #expect(harness.push.sent.count == 1)
            #expect(harness.push.sent.first?.title == "Order confirmed")

            // A device removed after its push was queued gets nothing.
            try await harness.deliver(OrderRefunded(NotificationHarness.order(customerID: 7, email: "anna@example.com")))
            #expect(try await harness.all().contains { $0.kind == "order_refunded" && $0.channel == .push && $0.status == .queued })
            #expect(try await harness.contacts.deleteDevice(id: device.device.id, userID: 7))
            try await harness.dispatcher.dispatchDue()
            #expect(harness.push.sent.count == 1)
            let refused = try #require(try await harness.all().first { $0.kind == "order_refunded" && $0.channel == .push })
            #expect(refused.status == .dead && refused.lastError?.contains("the device was removed") == true)
        }
    }

    @Test(arguments: kinds)
    func aTokenRegisteredAgainMovesToTheNewUserAndAUserKeepsTheirTenNewestDevices(kind: DatabaseKind) async throws {
        try await NotificationHarness.with(kind) { harness in
            let start = Date()
            let first = try await harness.contacts.register(userID: 7, token: "shared-token-cccccccccccc", platform: .ios, at: start)
            let moved = try await harness.contacts.register(userID: 8, token: "shared-token-cccccccccccc", platform: .ios, at: start)
            #expect(first.created && !moved.created)
            #expect(moved.device.id == first.device.id && moved.device.userID == 8)
            #expect(try await harness.contacts.devices(userID: 7).isEmpty)

            for index in 0..<(Device.maximumPerUser + 2) {
                _ = try await harness.contacts.register(
                    userID: 9,
                    token: "device-token-\(String(format: "%012d", index))",
                    platform: .android,
                    at: start.addingTimeInterval(Double(index))
                )
            }
            let kept = try await harness.contacts.devices(userID: 9).map(\.token).sorted()
            #expect(kept.count == Device.maximumPerUser)
            #expect(!kept.contains("device-token-000000000000") && !kept.contains("device-token-000000000001"))
        }
    }

    /// Many requests at once for one user, and for one number from many users: exactly as
    /// many codes as the limits allow, on both engines.
    @Test(arguments: kinds)
    func codesAskedForAllAtOnceStayWithinTheLimits(kind: DatabaseKind) async throws {
        try await NotificationHarness.with(kind) { harness in
            let number = try PhoneNumber("+4915112345678")
            let outcomes = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        do {
                            return try await harness.contacts.setPhone(userID: 7, number: number, locale: "en", at: Date()).codeSent
                        } catch is ContactStore.PhoneFailure {
                            return false
                        }
                    }
                }
                return try await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 }.count == VerificationCode.maximumSends)
            #expect(try await harness.all().filter { $0.kind == "phone_verification" }.count == VerificationCode.maximumSends)

            // Another number's budget is its own; one number's is shared by every user.
            let victim = try PhoneNumber("+4930123456789")
            let fromMany = try await withThrowingTaskGroup(of: Bool.self) { group in
                for user in Int64(100)..<110 {
                    group.addTask {
                        do {
                            return try await harness.contacts.setPhone(userID: user, number: victim, locale: "en", at: Date()).codeSent
                        } catch is ContactStore.PhoneFailure {
                            return false
                        }
                    }
                }
                return try await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(fromMany.filter { $0 }.count == VerificationCode.maximumSends)
        }
    }

    @Test(arguments: kinds)
    func devicesRegisteredAllAtOnceStayWithinTheCap(kind: DatabaseKind) async throws {
        try await NotificationHarness.with(kind) { harness in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<(Device.maximumPerUser + 8) {
                    group.addTask {
                        _ = try await harness.contacts.register(
                            userID: 7,
                            token: "burst-token-\(String(format: "%012d", index))",
                            platform: .android,
                            at: Date()
                        )
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await harness.contacts.devices(userID: 7).count == Device.maximumPerUser)
        }
    }

    @Test(arguments: kinds)
    func aDeletedUsersNumberAndDevicesAreForgotten(kind: DatabaseKind) async throws {
        try await NotificationHarness.with(kind) { harness in
            try await customer(harness)
            try await verifiedPhone(harness)
            _ = try await harness.contacts.register(userID: 7, token: "phone-token-aaaaaaaaaaaa", platform: .android, at: Date())
            try await harness.deliver(UserDeleted(userID: 7))
            #expect(try await harness.contacts.phone(userID: 7) == nil)
            #expect(try await harness.contacts.devices(userID: 7).isEmpty)
            #expect(try await harness.all().allSatisfy { $0.target.hasPrefix("forgotten:") })
            // Nothing new is kept for them afterwards.
            await #expect(throws: ContactStore.UserForgotten.self) {
                _ = try await harness.contacts.setPhone(userID: 7, number: try PhoneNumber("+4915112345678"), locale: nil, at: Date())
            }
            await #expect(throws: ContactStore.UserForgotten.self) {
                _ = try await harness.contacts.register(userID: 7, token: "phone-token-zzzzzzzzzzzz", platform: .android, at: Date())
            }
        }
    }
}

@Suite struct PhoneNumberTests {
    @Test(arguments: [
        ("+4915112345678", "+4915112345678"), ("+49 151 1234-5678", "+4915112345678"), ("+1 (415) 555.0100", "+14155550100"),
    ])
    func typedNumbersAreKeptInE164(_ typed: String, _ stored: String) throws {
        #expect(try PhoneNumber(typed).e164 == stored)
    }

    @Test(arguments: ["015112345678", "+0151123456", "+1234567", "+1234567890123456", "+49 151 abc", "+４９15112345678", "", "+"])
    func anythingElseIsRefused(_ typed: String) {
        #expect(throws: InvalidValue.self) { try PhoneNumber(typed) }
    }

    @Test func aMaskedNumberShowsOnlyItsEnds() throws {
        #expect(try PhoneNumber("+4915112345678").masked == "+49•••••••••78")
    }

    @Test func codesAreSixDigitsAndDependOnUserNumberAndNonce() {
        let codes = NotificationHarness.codes
        let code = codes.code(userID: 7, phone: "+4915112345678", nonce: "pv_1")
        #expect(code.count == 6 && code.allSatisfy(\.isNumber))
        #expect(codes.matches(code, userID: 7, phone: "+4915112345678", nonce: "pv_1"))
        let others = [
            codes.code(userID: 8, phone: "+4915112345678", nonce: "pv_1"),
            codes.code(userID: 7, phone: "+4915112345679", nonce: "pv_1"),
            codes.code(userID: 7, phone: "+4915112345678", nonce: "pv_2"),
        ]
        // Another user, number or nonce has another code (a clash is a million to one for
        // each; all three clashing would be a MAC that ignores them).
        #expect(others.filter { $0 == code }.count <= 1)
        #expect(!codes.matches(code, userID: 8, phone: "+4915112345678", nonce: "pv_1") || others[0] == code)
        #expect(!codes.matches(code, userID: 7, phone: "+4915112345679", nonce: "pv_1") || others[1] == code)
        #expect(!codes.matches(code, userID: 7, phone: "+4915112345678", nonce: "pv_2") || others[2] == code)
        #expect(!codes.matches(code + "0", userID: 7, phone: "+4915112345678", nonce: "pv_1"))
        // Over many nonces the codes spread: a code that ignored the nonce would repeat.
        let spread = Set((0..<200).map { codes.code(userID: 7, phone: "+4915112345678", nonce: "pv_\($0)") })
        #expect(spread.count > 190)
    }
}
