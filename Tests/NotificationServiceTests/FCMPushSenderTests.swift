import AsyncHTTPClient
import Crypto
import Foundation
import Hummingbird
import NIOCore
import NIOPosix
import Platform
import Synchronization
import TestSupport
import Testing
import _CryptoExtras

@testable import NotificationService

@Suite struct FCMPushSenderTests {
    static let key = try! _RSA.Signing.PrivateKey(keySize: .bits2048)
    static let keyID = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c"
    static let clientEmail = "push-sender@shop-test.iam.gserviceaccount.com"
    static let projectID = "shop-test"
    static let sendPath = "/v1/projects/\(projectID)/messages:send"

    /// A service account file's contents, as the Cloud console writes them; `changes` replace
    /// fields, and a nil value removes one.
    static func accountFile(tokenURI: String, key: _RSA.Signing.PrivateKey = key, changes: [String: (any Sendable)?] = [:]) -> Data {
        var fields: [String: Any] = [
            "type": "service_account", "project_id": projectID, "private_key_id": keyID, "private_key": key.pkcs8PEMRepresentation,
            "client_email": clientEmail, "client_id": "109876543210987654321", "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": tokenURI,
        ]
        for (name, value) in changes { fields[name] = value }
        return try! JSONSerialization.data(withJSONObject: fields)
    }

    static func account(tokenURI: String, key: _RSA.Signing.PrivateKey = key) throws -> ServiceAccount {
        try ServiceAccount(json: accountFile(tokenURI: tokenURI, key: key))
    }

    static func sender(
        base: String,
        tokenURI: String? = nil,
        key: _RSA.Signing.PrivateKey = key,
        timeout: Duration = .seconds(10),
        now: @escaping @Sendable () -> Date = Date.init
    ) throws -> FCMPushSender {
        let settings = try FCMSettings(serviceAccount: account(tokenURI: tokenURI ?? base + "/token", key: key), baseURL: base, timeout: timeout)
        return FCMPushSender(settings: settings, httpClient: .shared, now: now)
    }

    /// A device token long enough to be cut to its end in details; `kind` says how the fake
    /// FCM answers it.
    static func deviceToken(_ kind: String = "ok") -> String {
        "\(kind)-dKx9:APA91bHun4MxP5egoKMwt2KZFBaFUH-1RYqx-device-token-7c1e4f"
    }

    static func message(to deviceToken: String = deviceToken()) -> PushMessage {
        PushMessage(
            id: "ntf_\(UUID().uuidString)",
            deviceToken: deviceToken,
            title: "Your order has shipped",
            body: "Order 1042 is on its way",
            data: ["kind": "order_shipped", "order_id": "1042"]
        )
    }

    /// The failure `send` threw, or nil when it succeeded.
    static func failure(sending message: PushMessage, with sender: FCMPushSender) async -> DeliveryFailure? {
        do {
            _ = try await sender.send(message)
            return nil
        } catch {
            return error
        }
    }

    // MARK: Sending

    @Test func aSendPostsTheMessageWithTheBearerTokenAndReturnsItsName() async throws {
        try await FakeGoogle.with { google, base in
            let message = Self.message()

            let answer = try await Self.sender(base: base).send(message)

            #expect(answer == "200 projects/\(Self.projectID)/messages/0:1")
            let tokenRequests = await google.tokenRequests
            #expect(tokenRequests.count == 1)
            #expect(tokenRequests.allSatisfy { $0.problem == nil }, "\(tokenRequests.map(\.problem))")
            let sent = try #require(await google.sendRequests.first)
            #expect(sent.path == Self.sendPath)
            let token = try #require(await google.issuedTokens.first)
            #expect(sent.authorization == "Bearer \(token)")
            #expect(sent.contentType?.hasPrefix("application/json") == true)
            let body = try JSONDecoder().decode(SentMessage.self, from: Data(sent.body))
            #expect(
                body
                    == SentMessage(
                        message: .init(
                            token: message.deviceToken,
                            notification: .init(title: "Your order has shipped", body: "Order 1042 is on its way"),
                            data: ["kind": "order_shipped", "order_id": "1042", "notification_id": message.id]
                        )
                    )
            )
            let object = try #require(try JSONSerialization.jsonObject(with: Data(sent.body)) as? [String: Any])
            #expect(object.keys.sorted() == ["message"])
            #expect((object["message"] as? [String: Any])?.keys.sorted() == ["data", "notification", "token"])
        }
    }

    @Test func theProjectCanDifferFromTheServiceAccounts() async throws {
        try await FakeGoogle.with { google, base in
            let account = try Self.account(tokenURI: base + "/token")
            let settings = try FCMSettings(serviceAccount: account, projectID: "shop-push-prod", baseURL: base + "/")
            let sender = FCMPushSender(settings: settings, httpClient: .shared)

            _ = try await sender.send(Self.message())

            #expect(await google.sendRequests.map(\.path) == ["/v1/projects/shop-push-prod/messages:send"])
        }
    }

    @Test func oneAccessTokenServesManySends() async throws {
        try await FakeGoogle.with { google, base in
            let sender = try Self.sender(base: base)

            for _ in 0..<3 { _ = try await sender.send(Self.message()) }

            #expect(await google.tokenRequests.count == 1)
            let token = await google.issuedTokens[0]
            #expect(await google.sendRequests.map(\.authorization) == Array(repeating: "Bearer \(token)", count: 3))
        }
    }

    @Test func concurrentFirstSendsShareOneTokenRequest() async throws {
        try await FakeGoogle.with { google, base in
            // The token endpoint takes a while, so every send asks for a token while the first request is on its way.
            await google.delayTokens(by: .milliseconds(300))
            let sender = try Self.sender(base: base)

            let answers = try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<5 { group.addTask { try await sender.send(Self.message()) } }
                return try await group.reduce(into: [String]()) { $0.append($1) }
            }

            #expect(await google.tokenRequests.count == 1)
            #expect(Set(answers).count == 5)
            #expect(await google.sendRequests.count == 5)
        }
    }

    @Test func aTokenIsReplacedFiveMinutesBeforeItExpires() async throws {
        try await FakeGoogle.with { google, base in
            let start = Date(timeIntervalSince1970: 1_800_000_000)
            let clock = ManualClock(start)
            let sender = try Self.sender(base: base, now: { clock.now })
            // The fake's tokens expire 3599 s after they are asked for: kept until 3299 s.

            _ = try await sender.send(Self.message())
            clock.advance(by: 3298)
            _ = try await sender.send(Self.message())
            let beforeTheMargin = await google.tokenRequests.count
            clock.advance(by: 2)
            _ = try await sender.send(Self.message())

            #expect(beforeTheMargin == 1)
            let tokenRequests = await google.tokenRequests
            #expect(tokenRequests.map(\.issuedAt) == [1_800_000_000, 1_800_003_300])
            let tokens = await google.issuedTokens
            #expect(await google.sendRequests.map(\.authorization) == ["Bearer \(tokens[0])", "Bearer \(tokens[0])", "Bearer \(tokens[1])"])
        }
    }

    // MARK: A refused access token

    @Test func a401FromFCMFetchesOneFreshTokenAndRetriesOnce() async throws {
        try await FakeGoogle.with { google, base in
            let sender = try Self.sender(base: base)
            _ = try await sender.send(Self.message())
            await google.revokeIssuedTokens()

            let answer = try await sender.send(Self.message())

            // The fake names a message after how many sends it received: the refused one counts.
            #expect(answer == "200 projects/\(Self.projectID)/messages/0:3")
            let tokens = await google.issuedTokens
            #expect(tokens.count == 2)
            #expect(await google.sendRequests.map(\.authorization) == ["Bearer \(tokens[0])", "Bearer \(tokens[0])", "Bearer \(tokens[1])"])
        }
    }

    @Test func a401ThatAFreshTokenDoesNotCureIsTransient() async throws {
        try await FakeGoogle.with { google, base in
            await google.refuseEveryToken()
            let sender = try Self.sender(base: base)

            let failure = await Self.failure(sending: Self.message(), with: sender)

            #expect(failure?.kind == .transient)
            #expect(failure?.detail.hasPrefix("401 UNAUTHENTICATED") == true, "\(String(describing: failure))")
            #expect(failure?.detail.hasSuffix("even with a fresh access token") == true)
            #expect(await google.tokenRequests.count == 2)
            #expect(await google.sendRequests.count == 2)
        }
    }

    // MARK: FCM's refusals

    @Test(arguments: [
        ("unregistered", DeliveryFailure.Kind.gone, "404 NOT_FOUND UNREGISTERED: Requested entity was not found."),
        ("mismatch", .permanent, "403 PERMISSION_DENIED SENDER_ID_MISMATCH: SenderId mismatch"),
        ("invalid", .permanent, "400 INVALID_ARGUMENT INVALID_ARGUMENT: The registration token is not a valid FCM registration token"),
        ("apns", .permanent, "401 UNAUTHENTICATED THIRD_PARTY_AUTH_ERROR: Auth error from APNS or Web Push Service"),
        ("notfound", .permanent, "404 NOT_FOUND: Requested entity was not found."),
        ("quota", .transient, "429 RESOURCE_EXHAUSTED QUOTA_EXCEEDED: Quota exceeded for quota metric"),
        ("unavailable", .transient, "503 UNAVAILABLE UNAVAILABLE: The service is currently unavailable."),
        ("internal", .transient, "500 INTERNAL INTERNAL: Internal error encountered."),
    ])
    func fcmsErrorCodeOrStatusDecidesTheKindOfFailure(device: String, kind: DeliveryFailure.Kind, detail: String) async throws {
        try await FakeGoogle.with { google, base in
            let failure = await Self.failure(sending: Self.message(to: Self.deviceToken(device)), with: try Self.sender(base: base))

            #expect(failure?.kind == kind)
            #expect(failure?.detail.hasPrefix(detail) == true, "\(String(describing: failure))")
            #expect(failure?.detail.hasSuffix("(device …7c1e4f)") == true, "\(String(describing: failure))")
            // Neither a retry nor a fresh token: a 401 with THIRD_PARTY_AUTH_ERROR included.
            #expect(await google.sendRequests.count == 1)
            #expect(await google.tokenRequests.count == 1)
        }
    }

    @Test func onlyTheStartOfALargeAnswerIsRead() async throws {
        try await FakeGoogle.with { _, base in
            let failure = await Self.failure(sending: Self.message(to: Self.deviceToken("huge")), with: try Self.sender(base: base))

            #expect(failure?.kind == .transient)
            #expect(failure?.detail.hasPrefix("500 xxxx") == true, "\(String(describing: failure))")
            #expect((failure?.detail.count ?? .max) <= 4 + PushFailureDetail.maximumLength + 1 + " (device …7c1e4f)".count)
        }
    }

    // MARK: The token endpoint's refusals

    @Test(arguments: [
        (400, "invalid_grant", DeliveryFailure.Kind.permanent), (401, "invalid_client", .permanent), (500, "internal_failure", .transient),
        (503, "temporarily_unavailable", .transient),
    ])
    func aRefusedTokenRequestFailsTheSendWithoutReachingFCM(status: Int, error: String, kind: DeliveryFailure.Kind) async throws {
        try await FakeGoogle.with { google, base in
            await google.refuseTokenRequests(status: status, error: error)

            let failure = await Self.failure(sending: Self.message(), with: try Self.sender(base: base))

            #expect(failure?.kind == kind)
            #expect(failure?.detail.hasPrefix("Could not get an access token: \(status) \(error): ") == true, "\(String(describing: failure))")
            #expect(await google.sendRequests.isEmpty)
        }
    }

    @Test func anAssertionSignedWithAnotherKeyIsRefusedAsPermanent() async throws {
        try await FakeGoogle.with { google, base in
            let otherKey = try _RSA.Signing.PrivateKey(keySize: .bits2048)

            let failure = await Self.failure(sending: Self.message(), with: try Self.sender(base: base, key: otherKey))

            #expect(failure?.kind == .permanent)
            #expect(failure?.detail.hasPrefix("Could not get an access token: 400 invalid_grant: Invalid JWT Signature.") == true)
            #expect(await google.tokenRequests.map(\.problem) == ["the signature does not verify"])
            #expect(await google.sendRequests.isEmpty)
        }
    }

    @Test func aFailedTokenRequestIsNotKeptAndTheNextSendAsksAgain() async throws {
        try await FakeGoogle.with { google, base in
            let sender = try Self.sender(base: base)
            await google.refuseTokenRequests(status: 503, error: "temporarily_unavailable")
            let failure = await Self.failure(sending: Self.message(), with: sender)
            await google.grantTokenRequests()

            let answer = try await sender.send(Self.message())

            #expect(failure?.kind == .transient)
            #expect(answer.hasPrefix("200 projects/"))
            #expect(await google.tokenRequests.count == 2)
        }
    }

    // MARK: No answer

    @Test func fcmNotAnsweringIsATransientFailure() async throws {
        try await FakeGoogle.with { google, base in
            try await withSilentServer { port in
                // The token must come within the timeout for FCM's silence to be what fails, and a
                // loaded machine took over a second for it: the timeout is generous.
                let sender = try Self.sender(base: "http://127.0.0.1:\(port)", tokenURI: base + "/token", timeout: .seconds(5))

                let failure = await Self.failure(sending: Self.message(), with: sender)

                #expect(failure?.kind == .transient)
                let detail = failure?.detail ?? ""
                #expect(detail.hasPrefix("FCM did not answer within") || detail.hasPrefix("Could not connect to FCM within"), "\(detail)")
                #expect(await google.tokenRequests.count == 1)
            }
        }
    }

    @Test func theTokenEndpointNotAnsweringIsATransientFailure() async throws {
        try await withSilentServer { port in
            let silent = "http://127.0.0.1:\(port)"
            let sender = try Self.sender(base: silent, tokenURI: silent + "/token", timeout: .seconds(1))

            let failure = await Self.failure(sending: Self.message(), with: sender)

            #expect(failure?.kind == .transient)
            #expect(failure?.detail.hasPrefix("Could not get an access token: ") == true, "\(String(describing: failure))")
            #expect(failure?.detail.contains("the token endpoint") == true, "\(String(describing: failure))")
        }
    }

    @Test func aRefusedConnectionIsATransientFailure() async throws {
        try await FakeGoogle.with { _, base in
            // Generous for the token, as above.
            let sender = try Self.sender(base: "http://127.0.0.1:1", tokenURI: base + "/token", timeout: .seconds(5))

            let failure = await Self.failure(sending: Self.message(), with: sender)

            #expect(failure?.kind == .transient)
            // The client keeps trying a refused port until the deadline, so on a loaded
            // machine the detail may say the time ran out rather than the refusal.
            let detail = failure?.detail ?? ""
            #expect(
                detail.hasPrefix("Could not reach FCM") || detail.hasPrefix("Could not connect to FCM") || detail.hasPrefix("FCM did not answer"),
                "\(detail)"
            )
        }
    }

    // MARK: Secrets

    @Test func noDetailOrDescriptionShowsATokenTheKeyOrAnAssertion() async throws {
        try await FakeGoogle.with { google, base in
            let sender = try Self.sender(base: base)
            let device = Self.deviceToken("invalid")
            // FCM echoes the device token and the bearer token in this answer.
            let invalid = await Self.failure(sending: Self.message(to: device), with: sender)
            // The fake's 401 echoes the bearer token.
            await google.refuseEveryToken()
            let refused = await Self.failure(sending: Self.message(), with: sender)
            // The token endpoint's refusal echoes the assertion.
            await google.refuseTokenRequests(status: 400, error: "invalid_grant")
            let ungranted = await Self.failure(sending: Self.message(), with: try Self.sender(base: base))

            let texts = [
                invalid?.detail, refused?.detail, ungranted?.detail, String(describing: sender.settings),
                String(describing: sender.settings.serviceAccount), String(reflecting: sender.settings.serviceAccount),
                Self.dumped(sender.settings.serviceAccount), Self.dumped(sender.settings),
            ]
            .compactMap { $0 }
            #expect(texts.count == 8)
            #expect(invalid?.detail.contains("…7c1e4f") == true, "\(String(describing: invalid))")
            let secrets = (await google.issuedTokens) + (await google.tokenRequests.map(\.assertion)) + [device] + Self.pemLines
            #expect(secrets.count >= 2 + 3 + 1 + 20)
            for text in texts {
                for secret in secrets {
                    #expect(!text.contains(secret), "\(text)")
                }
            }
        }
    }

    // MARK: Service account files

    @Test func aServiceAccountFileIsRead() throws {
        let account = try ServiceAccount(json: Self.accountFile(tokenURI: "https://oauth2.googleapis.com/token"))

        #expect(account.projectID == Self.projectID)
        #expect(account.privateKeyID == Self.keyID)
        #expect(account.clientEmail == Self.clientEmail)
        #expect(account.tokenURI == "https://oauth2.googleapis.com/token")
        #expect(String(describing: account) == "service account \(Self.clientEmail) (project \(Self.projectID), key \(Self.keyID))")
    }

    @Test(arguments: [
        (#"["not", "an", "object"]"#, "The service account file is not a JSON object"),
        (
            #"{"type": "authorized_user", "client_id": "x"}"#,
            #"The file's type is "authorized_user", not "service_account": it must be a service account key"#
        ),
        (#"{"project_id": "p"}"#, #"The file's type is missing, not "service_account": it must be a service account key"#),
        (#"{"type": "service_account", "project_id": 42}"#, "The service account file's project_id is not a string"),
        (
            #"{"type": "service_account", "project_id": "p", "private_key_id": "", "client_email": "a@b"}"#,
            "The service account file lacks private_key_id, private_key, token_uri"
        ),
        (
            #"{"type": "service_account", "project_id": "p", "private_key_id": "k", "private_key": "-----BEGIN PRIVATE KEY-----\nbm9wZQ==\n-----END PRIVATE KEY-----\n", "client_email": "a@b", "token_uri": "https://oauth2.googleapis.com/token"}"#,
            "The service account's private_key is not an RSA private key of at least 2048 bits in PEM form"
        ),
    ])
    func aServiceAccountFileThatIsNotOneIsRefusedWithAReason(contents: String, message: String) {
        #expect(throws: ServiceAccount.Invalid(message)) {
            try ServiceAccount(json: Data(contents.utf8))
        }
    }

    @Test func aKeyOfLessThan2048BitsIsRefused() throws {
        let small = try _RSA.Signing.PrivateKey(unsafeKeySize: .init(bitCount: 1024))
        let contents = Self.accountFile(tokenURI: "https://oauth2.googleapis.com/token", key: small)

        #expect(throws: ServiceAccount.Invalid("The service account's private_key is not an RSA private key of at least 2048 bits in PEM form")) {
            try ServiceAccount(json: contents)
        }
    }

    // MARK: Settings

    @Test(arguments: [
        ("https://fcm.googleapis.com", "https://oauth2.googleapis.com/token"), ("http://127.0.0.1:8080", "http://localhost:9000/token"),
        ("http://[::1]:8080/", "http://127.0.0.1/token"), ("HTTP://LOCALHOST", "https://oauth2.googleapis.com/token"),
    ])
    func httpsOrLoopbackAddressesAreAccepted(base: String, tokenURI: String) throws {
        let settings = try FCMSettings(serviceAccount: Self.account(tokenURI: tokenURI), baseURL: base)

        #expect(settings.projectID == Self.projectID)
        #expect(settings.sendURL.hasSuffix("/v1/projects/\(Self.projectID)/messages:send"))
        #expect(!settings.sendURL.contains("//v1"))
    }

    @Test(arguments: [
        ("http://fcm.googleapis.com", "https://oauth2.googleapis.com/token", "The FCM base URL must use https unless its host is a loopback address"),
        ("https://fcm.googleapis.com", "http://oauth2.googleapis.com/token", "The service account's token_uri must use https unless"),
        ("http://10.0.0.5:8080", "https://oauth2.googleapis.com/token", "The FCM base URL must use https unless"),
        ("ftp://fcm.googleapis.com", "https://oauth2.googleapis.com/token", "The FCM base URL must be an absolute https URL"),
        ("fcm.googleapis.com", "https://oauth2.googleapis.com/token", "The FCM base URL must be an absolute https URL"),
        ("https://fcm.googleapis.com?key=1", "https://oauth2.googleapis.com/token", "The FCM base URL must not have credentials, a query"),
    ])
    func anAddressThatIsNotHTTPSOrLoopbackIsRefused(base: String, tokenURI: String, reason: String) throws {
        let account = try Self.account(tokenURI: tokenURI)

        let error = #expect(throws: InvalidValue.self) { try FCMSettings(serviceAccount: account, baseURL: base) }

        #expect(error?.reason.hasPrefix(reason) == true, "\(String(describing: error))")
    }

    @Test func aProjectIDThatDoesNotBelongInAPathOrANonPositiveTimeoutIsRefused() throws {
        let account = try Self.account(tokenURI: "https://oauth2.googleapis.com/token")

        #expect(throws: InvalidValue.self) { try FCMSettings(serviceAccount: account, projectID: "shop/../admin") }
        #expect(throws: InvalidValue.self) { try FCMSettings(serviceAccount: account, projectID: "") }
        #expect(throws: InvalidValue.self) { try FCMSettings(serviceAccount: account, timeout: .zero) }
    }

    // MARK: Helpers

    /// The base64 lines of the key's PEM form, none of which may show anywhere.
    static var pemLines: [String] {
        key.pkcs8PEMRepresentation.split(separator: "\n").filter { !$0.hasPrefix("-----") }.map(String.init)
    }

    static func dumped(_ value: some Any) -> String {
        var text = ""
        dump(value, to: &text)
        return text
    }

    /// What the fake FCM received, as FCM reads it.
    struct SentMessage: Decodable, Equatable {
        struct Message: Decodable, Equatable {
            let token: String
            let notification: Notification
            let data: [String: String]
        }

        struct Notification: Decodable, Equatable {
            let title: String
            let body: String
        }

        let message: Message
    }
}

/// Google's token endpoint (`/token`) and FCM's send endpoint on a free loopback port.
///
/// The token endpoint checks each assertion as Google does (the signature with the test
/// key's public half, the header, the claims) and refuses one that fails with `invalid_grant`.
/// FCM takes only the tokens it issued and answers by the device token's first word.
private actor FakeGoogle {
    struct TokenRequest: Sendable {
        let assertion: String
        /// Why the assertion was refused, or nil when it was accepted.
        let problem: String?
        let issuedAt: Int64?
    }

    struct SendRequest: Sendable {
        let path: String
        let authorization: String?
        let contentType: String?
        let body: [UInt8]
    }

    static let tokenLifetime = 3599

    private(set) var tokenRequests: [TokenRequest] = []
    private(set) var sendRequests: [SendRequest] = []
    private(set) var issuedTokens: [String] = []
    private var validTokens: Set<String> = []
    private var audience = ""
    private var tokenDelay: Duration = .zero
    private var tokenRefusal: (status: Int, error: String)?
    private var refusesEveryToken = false

    func delayTokens(by delay: Duration) { tokenDelay = delay }
    func revokeIssuedTokens() { validTokens.removeAll() }
    func refuseEveryToken() { refusesEveryToken = true }
    func refuseTokenRequests(status: Int, error: String) { tokenRefusal = (status, error) }
    func grantTokenRequests() { tokenRefusal = nil }

    /// Runs the fake for `body`, which gets it and its base URL, then stops it gracefully.
    static func with(_ body: (FakeGoogle, String) async throws -> Void) async throws {
        let google = FakeGoogle()
        try await withLocalHTTPServer(label: "fake-google") { request in
            let bytes = Array(try await request.body.collect(upTo: 1 << 20).readableBytesView)
            let path = request.uri.path
            let (status, text) =
                path == "/token"
                ? await google.answerTokenRequest(form: String(decoding: bytes, as: UTF8.self), contentType: request.headers[.contentType])
                : await google.answerSend(
                    SendRequest(path: path, authorization: request.headers[.authorization], contentType: request.headers[.contentType], body: bytes)
                )
            return Response(
                status: .init(code: status),
                headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: text))
            )
        } _: { port in
            let base = "http://127.0.0.1:\(port)"
            await google.expectAudience(base + "/token")
            try await body(google, base)
        }
    }

    private func expectAudience(_ audience: String) { self.audience = audience }

    private func answerTokenRequest(form: String, contentType: String?) async -> (Int, String) {
        var fields: [String: String] = [:]
        for pair in form.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { $0.removingPercentEncoding ?? "" }
            if parts.count == 2 { fields[parts[0]] = parts[1] }
        }
        let assertion = fields["assertion"] ?? ""
        let checked = Self.check(assertion, audience: audience)
        var problem = checked.problem
        if fields["grant_type"] != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
            problem = "the grant type is \(fields["grant_type"] ?? "missing")"
        }
        if contentType != "application/x-www-form-urlencoded" { problem = "the content type is \(contentType ?? "missing")" }
        tokenRequests.append(TokenRequest(assertion: assertion, problem: problem, issuedAt: checked.issuedAt))
        if tokenDelay > .zero { try? await Task.sleep(for: tokenDelay) }

        if let tokenRefusal {
            return (tokenRefusal.status, Self.json(["error": tokenRefusal.error, "error_description": "Refused, for \(assertion)"]))
        }
        if let problem {
            let description = problem == "the signature does not verify" ? "Invalid JWT Signature." : "Invalid JWT: \(problem)"
            return (400, Self.json(["error": "invalid_grant", "error_description": description]))
        }
        let token = "ya29.c.fake-access-token-\(issuedTokens.count + 1)-\(UUID().uuidString)"
        issuedTokens.append(token)
        validTokens.insert(token)
        return (200, Self.json(["access_token": token, "expires_in": Self.tokenLifetime, "token_type": "Bearer"]))
    }

    private func answerSend(_ request: SendRequest) -> (Int, String) {
        sendRequests.append(request)
        let bearer = request.authorization.map { String($0.dropFirst("Bearer ".count)) } ?? ""
        guard validTokens.contains(bearer), !refusesEveryToken else {
            return Self.refusal(401, "UNAUTHENTICATED", message: "Request had invalid authentication credentials: \(bearer)")
        }
        let message = (try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any])?["message"] as? [String: Any]
        let device = message?["token"] as? String ?? ""
        switch device.prefix(while: { $0 != "-" }) {
        case "unregistered": return Self.refusal(404, "NOT_FOUND", "UNREGISTERED", message: "Requested entity was not found.")
        case "mismatch": return Self.refusal(403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH", message: "SenderId mismatch")
        case "invalid":
            let text = "The registration token is not a valid FCM registration token: \(device), sent with \(bearer)"
            return Self.refusal(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", message: text)
        case "apns": return Self.refusal(401, "UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR", message: "Auth error from APNS or Web Push Service")
        case "notfound": return Self.refusal(404, "NOT_FOUND", message: "Requested entity was not found.")
        case "quota": return Self.refusal(429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED", message: "Quota exceeded for quota metric")
        case "unavailable": return Self.refusal(503, "UNAVAILABLE", "UNAVAILABLE", message: "The service is currently unavailable.")
        case "internal": return Self.refusal(500, "INTERNAL", "INTERNAL", message: "Internal error encountered.")
        case "huge": return (500, String(repeating: "x", count: 1 << 20))
        default: return (200, Self.json(["name": "projects/\(request.path.split(separator: "/")[2])/messages/0:\(sendRequests.count)"]))
        }
    }

    /// A google.rpc.Status answer, with an FcmError detail when there is an `errorCode`.
    private static func refusal(_ code: Int, _ status: String, _ errorCode: String? = nil, message: String) -> (Int, String) {
        var error: [String: Any] = ["code": code, "message": message, "status": status]
        if let errorCode {
            error["details"] = [
                ["@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": errorCode],
                ["@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [["field": "message.token"]]],
            ]
        }
        return (code, json(["error": error]))
    }

    /// Why `assertion` is not a valid JWT bearer assertion for FCM at `audience`, or nil; and
    /// its `iat`.
    private static func check(_ assertion: String, audience: String) -> (problem: String?, issuedAt: Int64?) {
        let parts = assertion.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let headerBytes = Base64URL.decode(parts[0]), let claimsBytes = Base64URL.decode(parts[1]),
            let signature = Base64URL.decode(parts[2]),
            let header = (try? JSONSerialization.jsonObject(with: headerBytes)) as? [String: Any],
            let claims = (try? JSONSerialization.jsonObject(with: claimsBytes)) as? [String: Any]
        else { return ("the assertion is not a JWT", nil) }
        let issuedAt = (claims["iat"] as? NSNumber)?.int64Value
        let expiry = (claims["exp"] as? NSNumber)?.int64Value
        let signed = SHA256.hash(data: Data(parts[0..<2].joined(separator: ".").utf8))
        guard header["alg"] as? String == "RS256", header["typ"] as? String == "JWT" else { return ("the header is \(header)", issuedAt) }
        guard header["kid"] as? String == FCMPushSenderTests.keyID else { return ("the key id is \(header["kid"] ?? "missing")", issuedAt) }
        guard claims["iss"] as? String == FCMPushSenderTests.clientEmail else { return ("the issuer is \(claims["iss"] ?? "missing")", issuedAt) }
        guard claims["scope"] as? String == "https://www.googleapis.com/auth/firebase.messaging" else {
            return ("the scope is \(claims["scope"] ?? "missing")", issuedAt)
        }
        guard claims["aud"] as? String == audience else { return ("the audience is \(claims["aud"] ?? "missing")", issuedAt) }
        guard let issuedAt, let expiry, expiry - issuedAt == 3600 else { return ("iat and exp are not an hour apart", issuedAt) }
        let publicKey = FCMPushSenderTests.key.publicKey
        guard publicKey.isValidSignature(.init(rawRepresentation: signature), for: signed, padding: .insecurePKCS1v1_5) else {
            return ("the signature does not verify", issuedAt)
        }
        return (nil, issuedAt)
    }

    private static func json(_ object: [String: Any]) -> String {
        String(decoding: (try? JSONSerialization.data(withJSONObject: object)) ?? Data(), as: UTF8.self)
    }
}

/// A clock that stands still until a test moves it.
private final class ManualClock: Sendable {
    private let current: Mutex<Date>

    init(_ start: Date) {
        current = Mutex(start)
    }

    var now: Date { current.withLock { $0 } }

    func advance(by seconds: TimeInterval) {
        current.withLock { $0 += seconds }
    }
}

/// Runs `body` with the port of a loopback listener that accepts connections and never says a
/// word, then closes it.
private func withSilentServer(_ body: (Int) async throws -> Void) async throws {
    let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        .bind(host: "127.0.0.1", port: 0)
        .get()
    do {
        try await body(try #require(channel.localAddress?.port))
    } catch {
        try? await channel.close()
        throw error
    }
    try await channel.close()
}
