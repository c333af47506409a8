import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import TestSupport
import Testing

@testable import NotificationService

@Suite struct WebhookSenderTests {
    static let secret = WebhookSignature.generateSecret()

    static func sender(timeout: Duration = .seconds(10), policy: WebhookAddressPolicy = .development) -> WebhookSender {
        WebhookSender(httpClient: .shared, policy: policy, timeout: timeout, userAgent: "Shop-Webhooks/1.0")
    }

    static func delivery(to url: String, id: String = "msg_\(UUID().uuidString)") -> WebhookDelivery {
        WebhookDelivery(
            id: id,
            url: url,
            eventType: "order.paid",
            body: Array(#"{"type":"order.paid","data":{"order_id":42}}"#.utf8),
            secret: secret
        )
    }

    /// The failure `send` threw, or nil when it succeeded.
    static func failure(sending delivery: WebhookDelivery, with sender: WebhookSender = sender()) async -> DeliveryFailure? {
        do {
            _ = try await sender.send(delivery, at: Date())
            return nil
        } catch {
            return error
        }
    }

    @Test func a2xxIsASuccessAndTheReceiverVerifiesTheSignedRequest() async throws {
        try await WebhookReceiver.with(secret: Self.secret) { receiver, base in
            let delivery = Self.delivery(to: base + "/ok")

            let answer = try await Self.sender().send(delivery, at: Date())

            #expect(answer == "200 OK: thanks")
            let received = try #require(await receiver.received.first)
            #expect(received.signatureProblem == nil)
            #expect(received.headers["webhook-id"] == delivery.id)
            #expect(received.headers["content-type"] == "application/json")
            #expect(received.headers["user-agent"] == "Shop-Webhooks/1.0")
            #expect(received.body == delivery.body)
        }
    }

    @Test(arguments: [
        ("/error", DeliveryFailure.Kind.transient), ("/unavailable", .transient), ("/request-timeout", .transient),
        ("/too-many", .transient), ("/gone", .gone), ("/missing", .permanent), ("/unauthorized", .permanent),
    ])
    func theStatusDecidesWhetherAFailureIsWorthRetrying(path: String, kind: DeliveryFailure.Kind) async throws {
        try await WebhookReceiver.with(secret: Self.secret) { receiver, base in
            let failure = await Self.failure(sending: Self.delivery(to: base + path))

            #expect(failure?.kind == kind)
            #expect(await receiver.received.map(\.path) == [path])
        }
    }

    @Test func theFailureDetailCarriesTheStatusAndASnippetButNoSecret() async throws {
        try await WebhookReceiver.with(secret: Self.secret) { _, base in
            let failure = await Self.failure(sending: Self.delivery(to: base + "/error"))

            #expect(failure == .transient("500 Internal Server Error: database down, try again"))
            #expect(failure?.detail.contains(Self.secret) == false)
        }
    }

    @Test(arguments: ["/redirect-inside", "/redirect-to-metadata"])
    func aRedirectIsAPermanentFailureAndIsNotFollowed(path: String) async throws {
        try await WebhookReceiver.with(secret: Self.secret) { receiver, base in
            let failure = await Self.failure(sending: Self.delivery(to: base + path))

            #expect(failure?.kind == .permanent)
            #expect(failure?.detail.contains("redirect") == true)
            #expect(await receiver.received.map(\.path) == [path])
        }
    }

    @Test func noAnswerWithinTheTimeoutIsATransientFailure() async throws {
        try await WebhookReceiver.with(secret: Self.secret) { _, base in
            let failure = await Self.failure(sending: Self.delivery(to: base + "/slow"), with: Self.sender(timeout: .milliseconds(300)))

            // The receiver would answer 200 after its wait: a timeout is what cut it short (on
            // a loaded machine the connection itself may be what took too long).
            #expect(failure?.kind == .transient)
            let detail = failure?.detail ?? ""
            #expect(detail.hasPrefix("No answer within") || detail.hasPrefix("Could not connect within"), "\(detail)")
        }
    }

    @Test func aRefusedConnectionIsATransientFailure() async {
        let failure = await Self.failure(sending: Self.delivery(to: "http://127.0.0.1:1/hooks"))

        #expect(failure?.kind == .transient)
        #expect(failure?.detail.hasPrefix("Could not deliver") == true, "\(String(describing: failure))")
    }

    @Test func anAddressThePolicyRefusesIsAPermanentFailureAndNothingIsSent() async throws {
        try await WebhookReceiver.with(secret: Self.secret) { receiver, base in
            let strict = WebhookAddressPolicy(allowsPrivateNetworks: false, allowsInsecureHTTP: true)

            let failure = await Self.failure(sending: Self.delivery(to: base + "/ok"), with: Self.sender(policy: strict))

            #expect(failure?.kind == .permanent)
            #expect(failure?.detail.contains("loopback") == true)
            #expect(await receiver.received.isEmpty)
        }
    }

    @Test func aNameIsSentToTheAddressItWasCheckedAtWithoutResolvingItAgain() async throws {
        try await WebhookReceiver.with(secret: Self.secret) { receiver, base in
            let port = try #require(URLComponents(string: base)?.port)
            // The name exists nowhere but in this resolver: the request can only arrive if
            // it connects to the address the policy checked.
            let policy = WebhookAddressPolicy(allowsPrivateNetworks: true, allowsInsecureHTTP: true) { host in
                host == "hooks.shop-customer.test" ? [IPAddress("127.0.0.1")!] : []
            }

            let answer = try await Self.sender(policy: policy).send(Self.delivery(to: "http://hooks.shop-customer.test:\(port)/ok"), at: Date())

            #expect(answer == "200 OK: thanks")
            #expect(await receiver.received.first?.authority == "hooks.shop-customer.test:\(port)")
        }
    }

    @Test func onlyTheStartOfALargeAnswerIsKept() async throws {
        try await WebhookReceiver.with(secret: Self.secret) { _, base in
            let answer = try await Self.sender().send(Self.delivery(to: base + "/large"), at: Date())

            #expect(answer.hasPrefix("200 OK: aaaa"))
            #expect(answer.count <= "200 OK: ".count + WebhookSender.snippetLength + 1)
        }
    }

    @Test func aRetryCarriesTheSameWebhookIDWithAFreshSignature() async throws {
        try await WebhookReceiver.with(secret: Self.secret) { receiver, base in
            let delivery = Self.delivery(to: base + "/flaky")
            let first = Date()

            let failure = await Self.failure(sending: delivery)
            _ = try await Self.sender().send(delivery, at: first.addingTimeInterval(5))

            #expect(failure?.kind == .transient)
            let received = await receiver.received
            #expect(received.count == 2)
            #expect(received.map { $0.headers["webhook-id"] } == [delivery.id, delivery.id])
            #expect(received[0].headers["webhook-timestamp"] != received[1].headers["webhook-timestamp"])
            #expect(received.allSatisfy { $0.signatureProblem == nil })
        }
    }
}

/// A webhook receiver on a free loopback port: it checks every request's signature with
/// ``WebhookSignature/verify(id:timestamp:signature:body:now:tolerance:)`` and answers by
/// path.
private actor WebhookReceiver {
    struct Received: Sendable {
        let path: String
        /// The `Host` header (HTTP/1) or `:authority` (HTTP/2).
        let authority: String?
        let headers: [String: String]
        let body: [UInt8]
        /// Why the signature did not verify, or nil when it did.
        let signatureProblem: String?
    }

    private(set) var received: [Received] = []
    private var flakyCalls = 0

    func record(_ request: Received) -> Int {
        received.append(request)
        if request.path == "/flaky" { flakyCalls += 1 }
        return flakyCalls
    }

    static func answer(to path: String, flakyCalls: Int) async throws -> Response {
        func reply(_ status: Int, _ text: String = "", headers: HTTPFields = [:]) -> Response {
            Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
        }
        switch path {
        case "/ok": return reply(200, "thanks")
        case "/error": return reply(500, "database down,\n  try again")
        case "/unavailable": return reply(503)
        case "/request-timeout": return reply(408)
        case "/too-many": return reply(429, headers: [.retryAfter: "120"])
        case "/gone": return reply(410, "endpoint removed")
        case "/missing": return reply(404)
        case "/unauthorized": return reply(401)
        case "/redirect-inside": return reply(302, headers: [.location: "/ok"])
        case "/redirect-to-metadata": return reply(302, headers: [.location: "http://169.254.169.254/latest/meta-data/"])
        case "/large": return reply(200, String(repeating: "a", count: 1 << 20))
        case "/flaky": return flakyCalls == 1 ? reply(503) : reply(204)
        case "/slow":
            try await Task.sleep(for: .seconds(2))
            return reply(200)
        default: return reply(404)
        }
    }

    /// Runs a receiver for `body`, which gets it and its base URL, then stops it gracefully.
    static func with(secret: String, _ body: @Sendable (WebhookReceiver, String) async throws -> Void) async throws {
        let receiver = WebhookReceiver()
        let signature = try WebhookSignature(secret: secret)
        try await withLocalHTTPServer(label: "webhook-receiver") { request in
            let bytes = Array(try await request.body.collect(upTo: 1 << 20).readableBytesView)
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            var problem: String?
            do {
                try signature.verify(
                    id: headers["webhook-id"],
                    timestamp: headers["webhook-timestamp"],
                    signature: headers["webhook-signature"],
                    body: bytes,
                    now: Date()
                )
            } catch {
                problem = String(describing: error)
            }
            let path = request.uri.path
            let flakyCalls = await receiver.record(
                Received(path: path, authority: request.head.authority, headers: headers, body: bytes, signatureProblem: problem)
            )
            return try await answer(to: path, flakyCalls: flakyCalls)
        } _: { port in
            try await body(receiver, "http://127.0.0.1:\(port)")
        }
    }
}
