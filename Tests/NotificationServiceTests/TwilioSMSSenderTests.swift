import AsyncHTTPClient
import Foundation
import Hummingbird
import NIOCore
import Platform
import TestSupport
import Testing

@testable import NotificationService

@Suite struct TwilioSMSSenderTests {
    static let accountSID = "AC0123456789abcdef0123456789abcdef"
    static let authToken = "twilio-auth-token-s3cr3t"
    static let from = "+14155550100"
    static let messagingServiceSID = "MG0123456789abcdef0123456789abcdef"
    static let recipient = "+4915112345678"
    static let messagesPath = "/2010-04-01/Accounts/\(accountSID)/Messages.json"
    static let created = #"{"sid":"SM1f0e2d3c4b5a69788796a5b4c3d2e1f0","status":"queued","to":"+4915112345678","body":"hi"}"#

    static func settings(base: String, messagingService: Bool = false, timeout: Duration = .seconds(10)) throws -> TwilioSettings {
        try TwilioSettings(
            accountSID: accountSID,
            authToken: authToken,
            from: messagingService ? nil : from,
            messagingServiceSID: messagingService ? messagingServiceSID : nil,
            baseURL: base,
            timeout: timeout
        )
    }

    static func sender(base: String, messagingService: Bool = false, timeout: Duration = .seconds(10)) throws -> TwilioSMSSender {
        TwilioSMSSender(
            settings: try settings(base: base, messagingService: messagingService, timeout: timeout),
            httpClient: .shared,
            userAgent: "Shop-SMS/test"
        )
    }

    static func message(to recipient: String = recipient, body: String = "Your order 1042 has shipped") -> SMSMessage {
        SMSMessage(id: "ntf_\(UUID().uuidString)", to: recipient, body: body)
    }

    /// The failure `send` threw, or nil when it succeeded.
    static func failure(sending message: SMSMessage = message(), with sender: TwilioSMSSender) async -> DeliveryFailure? {
        do {
            _ = try await sender.send(message)
            return nil
        } catch {
            return error
        }
    }

    static func twilioError(status: Int, code: Int, message: String) -> String {
        let json = try? JSONSerialization.data(
            withJSONObject: ["code": code, "message": message, "more_info": "https://www.twilio.com/docs/errors/\(code)", "status": status]
        )
        return String(decoding: json ?? Data(), as: UTF8.self)
    }

    // MARK: The request

    @Test func aMessageIsAFormPOSTToTheAccountsMessagesWithBasicCredentials() async throws {
        let body = "Größe M & L = 2 + 2\nTrack it: https://shop.example/t?id=1&x=%20 🚚"
        try await FakeTwilio.with(status: 201, answer: Self.created) { twilio, base in
            let answer = try await Self.sender(base: base).send(Self.message(body: body))

            #expect(answer == "201 SM1f0e2d3c4b5a69788796a5b4c3d2e1f0 queued")
            let request = try #require(await twilio.received.first)
            #expect(request.method == "POST")
            #expect(request.path == Self.messagesPath)
            let credentials = Data("\(Self.accountSID):\(Self.authToken)".utf8).base64EncodedString()
            #expect(request.headers["authorization"] == "Basic \(credentials)")
            #expect(request.headers["content-type"] == "application/x-www-form-urlencoded")
            #expect(request.headers["user-agent"] == "Shop-SMS/test")
            #expect(request.form == ["To": Self.recipient, "From": Self.from, "Body": body])
        }
    }

    @Test func aMessagingServiceIsNamedInsteadOfAFromNumber() async throws {
        try await FakeTwilio.with(status: 201, answer: Self.created) { twilio, base in
            _ = try await Self.sender(base: base, messagingService: true).send(Self.message(body: "Hello"))

            let request = try #require(await twilio.received.first)
            #expect(request.form == ["To": Self.recipient, "MessagingServiceSid": Self.messagingServiceSID, "Body": "Hello"])
        }
    }

    @Test func formValuesArePercentEncoded() {
        let encoded = TwilioSMSSender.formEncoded("a b+c&d=e%f\r\nü🚚~*-._")

        #expect(encoded == "a%20b%2Bc%26d%3De%25f%0D%0A%C3%BC%F0%9F%9A%9A~%2A-._")
    }

    // MARK: Twilio's answer

    @Test func any2xxIsASuccessEvenWithoutTheUsualBody() async throws {
        try await FakeTwilio.with(status: 200, answer: "accepted") { _, base in
            let answer = try await Self.sender(base: base).send(Self.message())

            #expect(answer == "200 OK")
        }
    }

    @Test(arguments: [
        (429, 20429, DeliveryFailure.Kind.transient), (408, 0, .transient), (500, 20500, .transient), (503, 20503, .transient),
        (400, 21211, .permanent), (400, 21610, .gone), (401, 20003, .permanent), (403, 20003, .permanent),
        (404, 20404, .permanent),
    ])
    func theStatusAndTwiliosCodeDecideWhetherTryingAgainCanHelp(status: Int, code: Int, kind: DeliveryFailure.Kind) async throws {
        let answer = Self.twilioError(status: status, code: code, message: "Twilio says no")
        try await FakeTwilio.with(status: status, answer: answer) { twilio, base in
            let failure = await Self.failure(with: try Self.sender(base: base))

            #expect(failure?.kind == kind)
            #expect(failure?.detail.hasPrefix("\(status) ") == true, "\(String(describing: failure))")
            #expect(await twilio.received.count == 1)
        }
    }

    @Test func aRefusedRecipientNamesTheStatusTwiliosCodeAndMessageWithTheNumberMasked() async throws {
        let answer = Self.twilioError(status: 400, code: 21211, message: "The 'To' number \(Self.recipient) is not a valid phone number.")
        try await FakeTwilio.with(status: 400, answer: answer) { _, base in
            let failure = await Self.failure(with: try Self.sender(base: base))

            #expect(failure == .permanent("400 Bad Request, Twilio error 21211: The 'To' number +…678 is not a valid phone number."))
        }
    }

    @Test func aRecipientWhoRepliedStopIsGone() async throws {
        let answer = Self.twilioError(status: 400, code: 21610, message: "Attempt to send to unsubscribed recipient")
        try await FakeTwilio.with(status: 400, answer: answer) { _, base in
            let failure = await Self.failure(with: try Self.sender(base: base))

            #expect(failure == .gone("400 Bad Request, Twilio error 21610: Attempt to send to unsubscribed recipient"))
        }
    }

    @Test func aLongErrorMessageIsShortenedToOneLine() async throws {
        let answer = Self.twilioError(status: 400, code: 21602, message: "Message body is required.\n" + String(repeating: "x", count: 1000))
        try await FakeTwilio.with(status: 400, answer: answer) { _, base in
            let failure = await Self.failure(with: try Self.sender(base: base))

            let detail = try #require(failure?.detail)
            let prefix = "400 Bad Request, Twilio error 21602: "
            #expect(detail.hasPrefix(prefix + "Message body is required. xxx"))
            #expect(detail.hasSuffix("…"))
            #expect(detail.count == prefix.count + TwilioSMSSender.messageLength + 1)
        }
    }

    @Test func onlyTheFirst4096BytesOfAnAnswerAreRead() async throws {
        // Valid JSON as a whole, so its message would show if the sender read all of it.
        let answer = Self.twilioError(status: 400, code: 21211, message: String(repeating: "y", count: 8000))
        try await FakeTwilio.with(status: 400, answer: answer) { _, base in
            let failure = await Self.failure(with: try Self.sender(base: base))

            #expect(failure == .permanent("400 Bad Request"))
        }
    }

    // MARK: No answer

    @Test func aServerThatNeverAnswersIsATransientFailureAfterTheTimeout() async throws {
        let (release, releasing) = AsyncStream<Void>.makeStream()
        try await FakeTwilio.with(
            status: 201,
            answer: Self.created,
            delay: { for await _ in release {} }
        ) { _, base in
            defer { releasing.finish() }

            let failure = await Self.failure(with: try Self.sender(base: base, timeout: .seconds(1)))

            // On a loaded machine the connection itself may be what took too long.
            #expect(failure?.kind == .transient)
            let detail = failure?.detail ?? ""
            #expect(detail.hasPrefix("No answer from Twilio within") || detail.hasPrefix("Could not connect to Twilio within"), "\(detail)")
        }
    }

    @Test func aRefusedConnectionIsATransientFailure() async throws {
        let failure = await Self.failure(with: try Self.sender(base: "http://127.0.0.1:1", timeout: .seconds(1)))

        #expect(failure?.kind == .transient)
        #expect(failure?.detail.contains("Twilio") == true, "\(String(describing: failure))")
    }

    // MARK: The recipient

    @Test(arguments: [
        "4915112345678", "+04915112345678", "+49 151 12345678", "+1234567", "+1234567890123456", "+49151-12345678", "",
        "+4915112345678\n", "+４９１５１１２３４５６７８",
    ])
    func aRecipientNotInE164IsAPermanentFailureAndNothingIsSent(recipient: String) async throws {
        try await FakeTwilio.with(status: 201, answer: Self.created) { twilio, base in
            let failure = await Self.failure(sending: Self.message(to: recipient), with: try Self.sender(base: base))

            #expect(failure?.kind == .permanent)
            #expect(failure?.detail.contains("E.164") == true)
            #expect(await twilio.received.isEmpty)
        }
    }

    @Test func noDetailHoldsTheTokenTheCredentialsTheBodyOrTheWholeNumber() async throws {
        let credentials = Data("\(Self.accountSID):\(Self.authToken)".utf8).base64EncodedString()
        let body = "Your one-time code is 918273"
        // A server that echoes everything it was given, the worst case for a detail.
        let echo = "token \(Self.authToken), header Basic \(credentials), to \(Self.recipient) or 4915112345678, said: \(body)"
        try await FakeTwilio.with(status: 401, answer: Self.twilioError(status: 401, code: 20003, message: echo)) { _, base in
            let failure = await Self.failure(sending: Self.message(body: body), with: try Self.sender(base: base))

            let detail = try #require(failure?.detail)
            #expect(failure?.kind == .permanent)
            #expect(!detail.contains(Self.authToken))
            #expect(!detail.contains(credentials))
            #expect(!detail.contains(body))
            #expect(!detail.contains("918273"), "the code the text held")
            #expect(!detail.contains("15112345678"))
            #expect(detail.contains("+…678"))
        }
    }

    @Test func phoneNumbersInTextKeepOnlyTheirLastDigits() {
        let masked = TwilioSMSSender.maskingPhoneNumbers(in: "To +4915112345678 (or 004915112345678), SID SM1234567890ab, code 21211")

        #expect(masked == "To +…678 (or +…678), SID SM1234567890ab, code 21211")
    }
}

extension TwilioSMSSenderTests {
    @Suite struct Settings {
        static let sid = TwilioSMSSenderTests.accountSID
        static let token = TwilioSMSSenderTests.authToken

        @Test func defaultsToTwiliosAPIWithATenSecondTimeout() throws {
            let settings = try TwilioSettings(accountSID: Self.sid, authToken: Self.token, from: "+14155550100")

            #expect(settings.baseURL == "https://api.twilio.com")
            #expect(settings.timeout == .seconds(10))
            #expect(settings.sender == .number("+14155550100"))
        }

        @Test func aMessagingServiceCanBeTheSender() throws {
            let settings = try TwilioSettings(
                accountSID: Self.sid,
                authToken: Self.token,
                messagingServiceSID: TwilioSMSSenderTests.messagingServiceSID
            )

            #expect(settings.sender == .messagingService(TwilioSMSSenderTests.messagingServiceSID))
        }

        @Test(arguments: [
            ("https://twilio-proxy.example.com/", "https://twilio-proxy.example.com"), ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
            ("http://[::1]:8080//", "http://[::1]:8080"), ("http://LocalHost:9000", "http://LocalHost:9000"),
            ("https://proxy.example.com/twilio/", "https://proxy.example.com/twilio"),
        ])
        func aBaseURLIsHTTPSOrPlainHTTPOnLoopback(url: String, kept: String) throws {
            let settings = try TwilioSettings(accountSID: Self.sid, authToken: Self.token, from: "+14155550100", baseURL: url)

            #expect(settings.baseURL == kept)
        }

        @Test(
            arguments: [
                ("", token, "+14155550100", nil, "https://api.twilio.com", "account SID is empty"),
                ("AC01/../x", token, "+14155550100", nil, "https://api.twilio.com", "letters and digits"),
                (sid, "", "+14155550100", nil, "https://api.twilio.com", "auth token is empty"),
                (sid, "  \n", "+14155550100", nil, "https://api.twilio.com", "auth token is empty"),
                (sid, token, nil, nil, "https://api.twilio.com", "needs a sender"),
                (sid, token, "+14155550100", "MG0123456789abcdef0123456789abcdef", "https://api.twilio.com", "not both"),
                (sid, token, "14155550100", nil, "https://api.twilio.com", "E.164"),
                (sid, token, "+0415555010", nil, "https://api.twilio.com", "E.164"),
                (sid, token, "+1415555", nil, "https://api.twilio.com", "E.164"),
                (sid, token, "+1415555010012345", nil, "https://api.twilio.com", "E.164"),
                (sid, token, "+1 415 555 0100", nil, "https://api.twilio.com", "E.164"),
                (sid, token, nil, "AC0123456789abcdef0123456789abcdef", "https://api.twilio.com", "MG and 32"),
                (sid, token, nil, "MG0123", "https://api.twilio.com", "MG and 32"),
                (sid, token, "+14155550100", nil, "http://api.twilio.com", "must use https"),
                (sid, token, "+14155550100", nil, "http://127.0.0.2", "must use https"),
                (sid, token, "+14155550100", nil, "ftp://api.twilio.com", "must use https"),
                (sid, token, "+14155550100", nil, "api.twilio.com", "absolute URL"),
                (sid, token, "+14155550100", nil, "https://api.twilio.com?x=1", "query"),
                (sid, token, "+14155550100", nil, "https://user:pw@api.twilio.com", "credentials"),
            ] as [(String, String, String?, String?, String, String)]
        )
        func invalidSettingsAreRefusedWithAReason(
            sid: String,
            token: String,
            from: String?,
            service: String?,
            url: String,
            reason: String
        ) {
            let error = #expect(throws: InvalidValue.self) {
                try TwilioSettings(accountSID: sid, authToken: token, from: from, messagingServiceSID: service, baseURL: url)
            }

            #expect(error?.reason.contains(reason) == true, "\(String(describing: error))")
        }

        @Test func aTimeoutOfZeroIsRefused() {
            #expect(throws: InvalidValue.self) {
                try TwilioSettings(accountSID: Self.sid, authToken: Self.token, from: "+14155550100", timeout: .zero)
            }
        }

        @Test func neitherDescriptionNorMirrorNorAnErrorShowsTheToken() throws {
            let settings = try TwilioSettings(accountSID: Self.sid, authToken: Self.token, from: "+14155550100")
            var dumped = ""
            dump(settings, to: &dumped)

            let error = #expect(throws: InvalidValue.self) {
                try TwilioSettings(accountSID: Self.sid, authToken: Self.token, from: "+1 415", baseURL: "http://example.com")
            }

            #expect(!settings.description.contains(Self.token))
            #expect(!String(reflecting: settings).contains(Self.token))
            #expect(!dumped.contains(Self.token))
            #expect(dumped.contains("***"))
            #expect(settings.description.contains(Self.sid) && settings.description.contains("auth token ***"))
            #expect(error?.reason.contains(Self.token) == false)
        }
    }
}

/// Twilio's Messages API as far as these tests need it, on a free loopback port: it records
/// every request and gives the same answer to each.
private actor FakeTwilio {
    struct Received: Sendable {
        let method: String
        let path: String
        let headers: [String: String]
        let body: String

        /// The body's form fields, decoded.
        var form: [String: String] {
            var fields: [String: String] = [:]
            for pair in body.split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let decode = { (text: Substring) in text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "<malformed>" }
                fields[decode(parts[0])] = parts.count == 2 ? decode(parts[1]) : ""
            }
            return fields
        }
    }

    private(set) var received: [Received] = []

    func record(_ request: Received) {
        received.append(request)
    }

    /// Runs a fake that answers `status` and `answer` (as JSON) once `delay` returns, for
    /// `body`, which gets it and its base URL.
    static func with(
        status: Int,
        answer: String,
        delay: @escaping @Sendable () async -> Void = {},
        _ body: @Sendable (FakeTwilio, String) async throws -> Void
    ) async throws {
        let twilio = FakeTwilio()
        try await withLocalHTTPServer(label: "fake-twilio") { request in
            let bytes = try await request.body.collect(upTo: 1 << 20)
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            await twilio.record(
                Received(method: request.method.rawValue, path: request.uri.path, headers: headers, body: String(buffer: bytes))
            )
            await delay()
            return Response(
                status: .init(code: status),
                headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: answer))
            )
        } _: { port in
            try await body(twilio, "http://127.0.0.1:\(port)")
        }
    }
}
