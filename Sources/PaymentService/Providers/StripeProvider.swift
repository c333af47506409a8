public import AsyncHTTPClient
public import Foundation
public import NIOCore
import PaymentAPI
public import ServiceContract

/// The `stripe` provider: Stripe's PaymentIntents and Refunds APIs over HTTPS.
///
/// Every request is pinned to ``apiVersion``, so Stripe never changes a shape under us,
/// and every POST carries an `Idempotency-Key` derived from our ids: a call repeated
/// after its answer was lost is answered by Stripe from its first run, with no second
/// effect. Our payment id and the attempt key travel in the intent's metadata
/// (`metadata[payment_id]`, `metadata[attempt_key]`), so a charge whose answer was lost
/// can be found again.
///
/// A card number never passes through here: checkout sends the PaymentMethod
/// (`pm_...`) Stripe.js made in the browser, and a raw card is refused before any call.
/// A declined card is an intent with status `failed`; no answer, a timeout, a 5xx or a
/// 429 is ``ProviderError/unavailable(_:)`` (the outcome is unknown: repeat with the same
/// key); any other refusal is ``ProviderError/rejected(code:message:)``. Neither the
/// secret key nor a card number appears in an error or a description.
public struct StripeProvider: PaymentProvider {
    /// The API version every request is pinned to.
    public static let apiVersion = "2024-06-20"
    /// The metadata member that holds our payment id.
    static let paymentIDMetadata = "payment_id"
    /// The metadata member that holds the attempt key (the `Idempotency-Key`) an intent
    /// was created with.
    static let attemptKeyMetadata = "attempt_key"
    /// Stripe keeps at most 500 characters in a metadata value.
    static let metadataValueLimit = 500
    static let maxAnswerBytes = 1 << 20

    public var name: String { "stripe" }

    let secretKey: String
    let apiBase: String
    let webhookSignature: WebhookSignature?
    let httpClient: HTTPClient
    let timeout: TimeAmount
    let breaker: CircuitBreaker?

    /// - Parameters:
    ///   - secretKey: the account's secret key (`sk_live_...`, `sk_test_...`).
    ///   - apiBase: where Stripe's API is (another address only for tests).
    ///   - webhookSecret: the signing secret of the webhook endpoint (`whsec_...`);
    ///     without it every notice is refused.
    ///   - timeout: how long one call may take before its outcome counts as unknown.
    ///   - breaker: counts Stripe being unreachable, timing out or failing on its side, and
    ///     while open fails calls at once with ``ProviderError/unavailable(_:)``.
    public init(
        secretKey: String,
        apiBase: String = "https://api.stripe.com",
        webhookSecret: String?,
        httpClient: HTTPClient = .shared,
        timeout: TimeAmount = .seconds(30),
        breaker: CircuitBreaker? = nil
    ) {
        self.secretKey = secretKey
        self.apiBase = apiBase.hasSuffix("/") ? String(apiBase.dropLast()) : apiBase
        self.webhookSignature = webhookSecret.map { WebhookSignature(secret: $0) }
        self.httpClient = httpClient
        self.timeout = timeout
        self.breaker = breaker
    }

    public func authorize(_ charge: ProviderCharge) async throws -> ProviderIntent {
        guard charge.method.card == nil else {
            throw ProviderError.rejected(
                code: "raw_card_refused",
                message: "Stripe takes a payment method made by Stripe.js (pm_...); a card number is never sent from the server"
            )
        }
        guard let token = charge.method.token, !token.isEmpty else {
            throw ProviderError.rejected(code: "payment_method_missing", message: "Stripe needs a payment method (pm_...)")
        }
        var form = StripeForm()
        form.add("amount", String(charge.amount))
        form.add("currency", charge.currency.lowercased())
        form.add("capture_method", charge.captureMethod.rawValue)
        form.add("confirm", "true")
        form.add("payment_method", token)
        // Confirming without a return_url is allowed only when no method may redirect.
        form.add("automatic_payment_methods[enabled]", "true")
        form.add("automatic_payment_methods[allow_redirects]", "never")
        form.add("metadata[\(Self.paymentIDMetadata)]", charge.paymentID)
        form.add("metadata[\(Self.attemptKeyMetadata)]", charge.idempotencyKey)
        form.add("expand[]", "payment_method")
        return try intent(from: try await post("/v1/payment_intents", form, idempotencyKey: charge.idempotencyKey))
    }

    public func capture(reference: String, amount: Int64, idempotencyKey: String) async throws -> ProviderIntent {
        var form = StripeForm()
        form.add("amount_to_capture", String(amount))
        form.add("expand[]", "payment_method")
        return try intent(from: try await post("\(Self.intentPath(reference))/capture", form, idempotencyKey: idempotencyKey))
    }

    public func cancel(reference: String, idempotencyKey: String) async throws -> ProviderIntent {
        var form = StripeForm()
        form.add("expand[]", "payment_method")
        return try intent(from: try await post("\(Self.intentPath(reference))/cancel", form, idempotencyKey: idempotencyKey))
    }

    public func refund(reference: String, amount: Int64, reason: String, idempotencyKey: String) async throws -> ProviderRefund {
        var form = StripeForm()
        form.add("payment_intent", reference)
        form.add("amount", String(amount))
        // Stripe's `reason` is one of three words; ours is free text, kept in metadata.
        form.add("reason", "requested_by_customer")
        // An empty metadata value would mean "remove this member" to Stripe.
        if !reason.isEmpty { form.add("metadata[reason]", String(reason.prefix(Self.metadataValueLimit))) }
        form.add("metadata[refund_id]", idempotencyKey)
        let reply = try await post("/v1/refunds", form, idempotencyKey: idempotencyKey)
        guard (200..<300).contains(reply.status) else { throw rejection(reply) }
        return try decode(StripeRefund.self, reply).providerRefund
    }

    /// By reference, Stripe's current view of the intent. Without one, a search of the
    /// attempt key in the intents' metadata; Stripe's search index lags writes by up to
    /// about a minute, so an intent created just now may not be found yet, and `nil` is
    /// proof that it was never made only once that time has passed.
    public func find(attemptKey: String, reference: String?) async throws -> ProviderIntent? {
        if let reference {
            var query = StripeForm()
            query.add("expand[]", "payment_method")
            let reply = try await get(Self.intentPath(reference), query)
            if reply.status == 404 { return nil }
            return try intent(from: reply)
        }
        var query = StripeForm()
        query.add("query", "metadata['\(Self.attemptKeyMetadata)']:'\(Self.searchLiteral(attemptKey))'")
        query.add("expand[]", "data.payment_method")
        let reply = try await get("/v1/payment_intents/search", query)
        guard (200..<300).contains(reply.status) else { throw rejection(reply) }
        // One intent per key, unless the key was sent again after Stripe forgot it (24 h).
        let newest = try decode(StripeSearchResult.self, reply).data.max { ($0.created ?? 0) < ($1.created ?? 0) }
        guard let newest else { return nil }
        guard let intent = newest.providerIntent else { throw unexpected(status: newest.status) }
        return intent
    }

    public func findRefund(reference: String) async throws -> ProviderRefund? {
        let reply = try await get(
            "/v1/refunds/\(reference.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "_-"))) ?? reference)",
            StripeForm()
        )
        if reply.status == 404 { return nil }
        guard (200..<300).contains(reply.status) else { throw rejection(reply) }
        return try decode(StripeRefund.self, reply).providerRefund
    }

    public func refusal(of method: PaymentMethodBody) -> PaymentError? {
        if method.card != nil {
            return .invalid(
                field: "payment_method.card",
                message: "Stripe takes a payment method made by Stripe.js (pm_...); a card number never reaches the server"
            )
        }
        return nil
    }

    public func verifyNotice(signature: String?, body: [UInt8], now: Date) throws -> ProviderNotice {
        guard let webhookSignature else { throw ProviderError.unsignedNotice("No webhook secret is configured for Stripe") }
        try webhookSignature.verify(header: signature, body: body, now: now)
        return try WebhookBody.notice(from: body)
    }

    // MARK: - Answers

    /// The intent an answer carries: a 2xx's, or the one a declined card left behind (402).
    private func intent(from reply: Reply) throws(ProviderError) -> ProviderIntent {
        if reply.status == 402, let answer = try? decode(StripeErrorEnvelope.self, reply), let declined = answer.paymentIntent {
            guard var intent = declined.providerIntent else { throw unexpected(status: declined.status) }
            if intent.status == .requiresPaymentMethod { intent.status = .failed }
            if intent.status == .failed { intent.failure = answer.error.failure }
            return intent
        }
        guard (200..<300).contains(reply.status) else { throw rejection(reply) }
        let stripeIntent = try decode(StripePaymentIntent.self, reply)
        guard let intent = stripeIntent.providerIntent else { throw unexpected(status: stripeIntent.status) }
        return intent
    }

    /// A 4xx in Stripe's words: the decline code of a card error, else the error's code.
    private func rejection(_ reply: Reply) -> ProviderError {
        let error = try? decode(StripeErrorEnvelope.self, reply).error
        return .rejected(
            code: error?.declineCode ?? error?.code ?? error?.type ?? "http_\(reply.status)",
            message: redacted(error?.message ?? "Stripe answered \(reply.status)")
        )
    }

    /// A 2xx whose body is not what this API version documents: what Stripe did is not
    /// known, so it is treated like no answer.
    private func decode<Object: Decodable>(_ type: Object.Type, _ reply: Reply) throws(ProviderError) -> Object {
        do {
            return try JSONDecoder().decode(type, from: Data(reply.body))
        } catch {
            throw .unavailable("Stripe answered \(reply.status) with a body that is not a \(type): \(error)")
        }
    }

    private func unexpected(status: String) -> ProviderError {
        .unavailable("Stripe reported a PaymentIntent status this adapter does not know: \(status)")
    }

    /// `message` without the secret key or anything that may be a card number (12 or more
    /// digits, spaces and dashes allowed between them).
    private func redacted(_ message: String) -> String {
        let text = secretKey.isEmpty ? message : message.replacingOccurrences(of: secretKey, with: "[redacted]")
        var out = ""
        var run = ""
        var digits = 0
        func flush() {
            out += digits >= 12 ? "[redacted]" : run
            run = ""
            digits = 0
        }
        for character in text {
            if character.isASCII, character.isNumber {
                run.append(character)
                digits += 1
            } else if !run.isEmpty, character == " " || character == "-" {
                run.append(character)
            } else {
                flush()
                out.append(character)
            }
        }
        flush()
        return out
    }

    // MARK: - Requests

    /// What Stripe answered: a 2xx, or a 4xx other than 409 and 429.
    struct Reply: Sendable {
        let status: Int
        let body: [UInt8]
    }

    private enum Method {
        case get
        case post(idempotencyKey: String)
    }

    private func post(_ path: String, _ form: StripeForm, idempotencyKey: String) async throws -> Reply {
        try await call(.post(idempotencyKey: idempotencyKey), path, form)
    }

    private func get(_ path: String, _ query: StripeForm) async throws -> Reply {
        try await call(.get, path, query)
    }

    /// Sends one request, through the breaker when there is one.
    private func call(_ method: Method, _ path: String, _ form: StripeForm) async throws -> Reply {
        guard let breaker else { return try await send(method, path, form) }
        do {
            return try await breaker.run({ try await send(method, path, form) }, isFailure: Self.isUpstreamFailure)
        } catch let error as CircuitOpenError {
            throw ProviderError.unavailable("\(error)")
        }
    }

    /// Whether an error of a call counts against Stripe: no answer in time, or a failure on
    /// its side. A decline or a refusal shows Stripe is up.
    static func isUpstreamFailure(_ error: any Error) -> Bool {
        if case ProviderError.unavailable = error { return true }
        return false
    }

    private func send(_ method: Method, _ path: String, _ form: StripeForm) async throws(ProviderError) -> Reply {
        var request: HTTPClientRequest
        switch method {
        case .get:
            request = HTTPClientRequest(url: apiBase + path + (form.fields.isEmpty ? "" : "?" + form.encoded))
            request.method = .GET
        case .post(let idempotencyKey):
            request = HTTPClientRequest(url: apiBase + path)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.headers.add(name: "Idempotency-Key", value: idempotencyKey)
            request.body = .bytes(ByteBuffer(string: form.encoded))
        }
        request.headers.add(name: "Authorization", value: "Bearer \(secretKey)")
        request.headers.add(name: "Stripe-Version", value: Self.apiVersion)
        request.headers.add(name: "Accept", value: "application/json")
        let response: HTTPClientResponse
        let body: ByteBuffer
        do {
            response = try await httpClient.execute(request, timeout: timeout)
            // A connection lost mid-body is no answer either.
            body = try await response.body.collect(upTo: Self.maxAnswerBytes)
        } catch {
            throw .unavailable("Stripe did not answer: \(error)")
        }
        let status = Int(response.status.code)
        // 409: another request with the same key is still running; 429: rate limited.
        // Stripe marks with Stripe-Should-Retry what may be repeated as it is.
        let retryable = response.headers.first(name: "Stripe-Should-Retry") == "true"
        guard (200..<300).contains(status) || (400..<500).contains(status), status != 409, status != 429, !retryable else {
            throw .unavailable("Stripe answered \(status)")
        }
        return Reply(status: status, body: Array(body.readableBytesView))
    }

    private static func intentPath(_ reference: String) -> String {
        "/v1/payment_intents/\(StripeForm.percentEncoded(reference))"
    }

    /// `value` inside single quotes of Stripe's search query language.
    static func searchLiteral(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'")
    }
}

extension StripeProvider: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// Names the API it calls, never the keys.
    public var description: String { "StripeProvider(\(apiBase))" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["apiBase": apiBase], displayStyle: .struct) }
}
