import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import TestSupport

/// Stripe's PaymentIntents and Refunds endpoints, as far as the adapter uses them, on a
/// free loopback port.
///
/// Every request is checked the way Stripe documents it: the secret key as a bearer
/// token, the pinned `Stripe-Version`, form-encoded bodies with bracket keys, known
/// parameters only, and (our rule, which Stripe only recommends) an `Idempotency-Key` on
/// every POST. PaymentIntents and Refunds live in memory and are answered in Stripe's
/// shapes. A key repeated with the same parameters replays the first answer, with other
/// parameters it is a 400 `idempotency_error`. Whatever the adapter should never have
/// sent is also listed in ``problems``.
actor FakeStripe {
    static let secretKey = "sk_test_51ShopFakeStripeSecretKey"
    static let apiVersion = "2024-06-20"

    /// A PaymentMethod of Stripe's test mode, and what confirming with it does.
    struct PaymentMethod: Sendable {
        enum Outcome: Sendable {
            case approve
            case decline(code: String, declineCode: String?, message: String)
            case authenticate
        }

        let id: String
        let brand: String
        let last4: String
        let outcome: Outcome
        var expMonth = 12
        var expYear = 2034
    }

    static let paymentMethods: [String: PaymentMethod] = [
        "pm_card_visa": PaymentMethod(id: "pm_card_visa", brand: "visa", last4: "4242", outcome: .approve),
        "pm_card_mastercard": PaymentMethod(id: "pm_card_mastercard", brand: "mastercard", last4: "4444", outcome: .approve),
        "pm_card_visa_chargeDeclinedInsufficientFunds": PaymentMethod(
            id: "pm_card_visa_chargeDeclinedInsufficientFunds",
            brand: "visa",
            last4: "9995",
            outcome: .decline(code: "card_declined", declineCode: "insufficient_funds", message: "Your card has insufficient funds.")
        ),
        "pm_card_chargeDeclinedProcessingError": PaymentMethod(
            id: "pm_card_chargeDeclinedProcessingError",
            brand: "visa",
            last4: "0119",
            outcome: .decline(
                code: "processing_error",
                declineCode: nil,
                message: "An error occurred while processing your card. Try again in a little bit."
            )
        ),
        "pm_card_authenticationRequired": PaymentMethod(
            id: "pm_card_authenticationRequired",
            brand: "visa",
            last4: "3184",
            outcome: .authenticate
        ),
    ]

    struct Intent: Sendable {
        let id: String
        let amount: Int64
        let currency: String
        let captureMethod: String
        var status: String
        var amountCapturable: Int64 = 0
        var amountReceived: Int64 = 0
        var amountRefunded: Int64 = 0
        let metadata: [String: String]
        let paymentMethod: PaymentMethod?
        var latestCharge: String?
        var lastPaymentError: (code: String, declineCode: String?, message: String)?
        var nextActionURL: String?
        let created: Int64
    }

    struct Refund: Sendable {
        let id: String
        let amount: Int64
        let currency: String
        let paymentIntent: String
        let reason: String?
        let metadata: [String: String]
    }

    /// A request as the server received it (header names lower-cased).
    struct Incoming: Sendable {
        let method: String
        let path: String
        let query: String
        let headers: [String: String]
        let body: String
    }

    struct Reply: Sendable {
        var status: Int
        var body: String
        /// Whether Stripe keeps the answer for its idempotency key: not when the request
        /// failed validation before anything ran.
        var kept = true
    }

    private var intents: [String: Intent] = [:]
    private var refunds: [String: Refund] = [:]
    private var answered: [String: (fingerprint: String, reply: Reply)] = [:]
    private var number = 0
    private var injectedStatuses: [Int] = []
    private var stalls: [Duration] = []
    /// PaymentIntents created (a replayed answer creates none).
    private(set) var creations = 0
    /// Requests that reached the server.
    private(set) var received = 0
    /// What Stripe would have refused as malformed, or what our rules forbid.
    private(set) var problems: [String] = []

    func intent(_ id: String) -> Intent? { intents[id] }

    /// The customer completes the 3-D Secure step of `id` in their browser: the intent
    /// succeeds (or waits for its capture), as Stripe's would.
    func completeAction(_ id: String) {
        guard var intent = intents[id], intent.status == "requires_action" else { return }
        intent.latestCharge = nextID("ch")
        intent.nextActionURL = nil
        if intent.captureMethod == "manual" {
            intent.status = "requires_capture"
            intent.amountCapturable = intent.amount
        } else {
            intent.status = "succeeded"
            intent.amountReceived = intent.amount
        }
        intents[id] = intent
    }
    func refund(_ id: String) -> Refund? { refunds[id] }

    /// The next `times` requests are answered `status` (500, 429...) before anything runs,
    /// as a failing load balancer would.
    func answerNext(with status: Int, times: Int = 1) {
        injectedStatuses += Array(repeating: status, count: times)
    }

    /// The next request is answered only after `delay`.
    func stallNext(for delay: Duration) { stalls.append(delay) }

    func takeStall() -> Duration? { stalls.isEmpty ? nil : stalls.removeFirst() }

    // MARK: - Requests

    func respond(to request: Incoming) -> Reply {
        received += 1
        if !injectedStatuses.isEmpty {
            let status = injectedStatuses.removeFirst()
            return error(status, type: "api_error", message: "An unknown error occurred")
        }
        let route = "\(request.method) \(request.path)"
        guard request.headers["authorization"] == "Bearer \(Self.secretKey)" else {
            problems.append("\(route): no or another secret key")
            // Stripe shows a masked key; this echoes it whole, to prove the adapter hides it.
            let key = request.headers["authorization"]?.dropFirst("Bearer ".count) ?? ""
            return error(401, type: "invalid_request_error", message: "Invalid API Key provided: \(key)")
        }
        guard request.headers["stripe-version"] == Self.apiVersion else {
            problems.append("\(route): Stripe-Version is \(request.headers["stripe-version"] ?? "missing")")
            return error(400, type: "invalid_request_error", message: "Invalid Stripe API version")
        }
        guard request.method == "POST" else {
            guard let query = Form(request.query) else { return invalid(route, code: "parameter_invalid", "The query is not form-encoded") }
            return get(request.path, query, route: route)
        }
        guard request.headers["content-type"]?.hasPrefix("application/x-www-form-urlencoded") == true else {
            return invalid(route, code: "parameter_invalid", "Content-Type must be application/x-www-form-urlencoded")
        }
        guard let key = request.headers["idempotency-key"], !key.isEmpty else {
            return invalid(route, code: "idempotency_key_missing", "Every POST must carry an Idempotency-Key")
        }
        guard let form = Form(request.body) else { return invalid(route, code: "parameter_invalid", "The body is not form-encoded") }
        let fingerprint = "\(request.path)?\(form.fingerprint)"
        if let first = answered[key] {
            guard first.fingerprint == fingerprint else {
                return error(
                    400,
                    type: "idempotency_error",
                    message:
                        "Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '\(key)' if you meant to execute a different request."
                )
            }
            return first.reply
        }
        let reply = post(request.path, form, route: route)
        if reply.kept { answered[key] = (fingerprint, reply) }
        return reply
    }

    private func get(_ path: String, _ query: Form, route: String) -> Reply {
        let parts = path.split(separator: "/").map { String($0).removingPercentEncoding ?? String($0) }
        if parts == ["v1", "payment_intents", "search"] { return search(query, route: route) }
        if parts.count == 3, parts[0] == "v1", parts[1] == "payment_intents" { return retrieve(parts[2], query, route: route) }
        return error(404, type: "invalid_request_error", message: "Unrecognized request URL (GET: \(path))")
    }

    private func post(_ path: String, _ form: Form, route: String) -> Reply {
        let parts = path.split(separator: "/").map { String($0).removingPercentEncoding ?? String($0) }
        if parts == ["v1", "payment_intents"] { return create(form, route: route) }
        if parts == ["v1", "refunds"] { return createRefund(form, route: route) }
        if parts.count == 4, parts[0] == "v1", parts[1] == "payment_intents", parts[3] == "capture" {
            return capture(parts[2], form, route: route)
        }
        if parts.count == 4, parts[0] == "v1", parts[1] == "payment_intents", parts[3] == "cancel" {
            return cancel(parts[2], form, route: route)
        }
        return error(404, type: "invalid_request_error", message: "Unrecognized request URL (POST: \(path))")
    }

    // MARK: - PaymentIntents

    private func create(_ form: Form, route: String) -> Reply {
        let allowed: Set = ["amount", "currency", "capture_method", "confirm", "payment_method", "automatic_payment_methods", "metadata", "expand"]
        if let refusal = check(form, allowed: allowed, expandable: ["payment_method", "latest_charge"], route: route) { return refusal }
        guard let amount = form["amount"].flatMap({ Int64($0) }), amount >= 50 else {
            return invalid(route, code: "parameter_invalid_integer", "amount must be an integer of at least 50", param: "amount")
        }
        guard let currency = form["currency"], currency.count == 3, currency.allSatisfy({ $0.isLowercase && $0.isLetter }) else {
            return invalid(route, code: "parameter_invalid_string", "currency must be a three-letter code in lowercase", param: "currency")
        }
        let captureMethod = form["capture_method"] ?? "automatic_async"
        guard ["automatic", "automatic_async", "manual"].contains(captureMethod) else {
            return invalid(route, code: "parameter_invalid_string", "Invalid capture_method", param: "capture_method")
        }
        let automatic = form.hash("automatic_payment_methods")
        let confirm = form["confirm"] == "true"
        if confirm, automatic["enabled"] == "true", automatic["allow_redirects"] != "never" {
            return invalid(
                route,
                code: "parameter_missing",
                "Because some of the payment methods enabled might redirect your customer off of your page, you must provide a `return_url`. If you don't want to accept redirect-based payment methods, set `automatic_payment_methods[enabled]` to `true` and `automatic_payment_methods[allow_redirects]` to `never`.",
                param: "return_url"
            )
        }
        var paymentMethod: PaymentMethod?
        if let id = form["payment_method"] {
            guard let known = Self.paymentMethods[id] else {
                return error(
                    400,
                    type: "invalid_request_error",
                    code: "resource_missing",
                    message: "No such PaymentMethod: '\(id)'",
                    param: "payment_method"
                )
            }
            paymentMethod = known
        }
        if confirm, paymentMethod == nil {
            return invalid(route, code: "parameter_missing", "A PaymentIntent is confirmed with a payment_method", param: "payment_method")
        }
        creations += 1
        var intent = Intent(
            id: nextID("pi"),
            amount: amount,
            currency: currency,
            captureMethod: captureMethod,
            status: paymentMethod == nil ? "requires_payment_method" : "requires_confirmation",
            metadata: form.hash("metadata"),
            paymentMethod: paymentMethod,
            created: 1_767_225_600 + Int64(number)
        )
        if confirm, let paymentMethod {
            switch paymentMethod.outcome {
            case .approve:
                intent.latestCharge = nextID("ch")
                if captureMethod == "manual" {
                    intent.status = "requires_capture"
                    intent.amountCapturable = amount
                } else {
                    intent.status = "succeeded"
                    intent.amountReceived = amount
                }
            case .decline(let code, let declineCode, let message):
                intent.latestCharge = nextID("ch")
                intent.status = "requires_payment_method"
                intent.lastPaymentError = (code, declineCode, message)
            case .authenticate:
                intent.status = "requires_action"
                intent.nextActionURL = "https://hooks.stripe.com/redirect/authenticate/src_\(intent.id)"
            }
        }
        intents[intent.id] = intent
        if let failure = intent.lastPaymentError {
            // A card error is a 402 carrying the intent it left behind.
            return error(
                402,
                type: "card_error",
                code: failure.code,
                declineCode: failure.declineCode,
                message: failure.message,
                extra: ["payment_intent": json(intent, expand: []), "charge": .string(intent.latestCharge ?? "")]
            )
        }
        return ok(json(intent, expand: form.values("expand[]")))
    }

    private func retrieve(_ id: String, _ query: Form, route: String) -> Reply {
        if let refusal = check(query, allowed: ["expand", "client_secret"], expandable: ["payment_method", "latest_charge"], route: route) {
            return refusal
        }
        guard let intent = intents[id] else { return missing("payment_intent", id) }
        return ok(json(intent, expand: query.values("expand[]")))
    }

    private func search(_ query: Form, route: String) -> Reply {
        let expandable: Set = ["data.payment_method", "data.latest_charge"]
        if let refusal = check(query, allowed: ["query", "limit", "page", "expand"], expandable: expandable, route: route) { return refusal }
        guard let text = query["query"], let clause = Self.metadataClause(text) else {
            return invalid(route, code: "parameter_invalid_string", "Unsupported search query: \(query["query"] ?? "")", param: "query")
        }
        let expand = query.values("expand[]").map { String($0.dropFirst("data.".count)) }
        let found = intents.values.filter { $0.metadata[clause.key] == clause.value }.sorted { $0.created > $1.created }
        let data = JSON.array(found.map { json($0, expand: expand) })
        return ok(["object": "search_result", "url": "/v1/payment_intents/search", "has_more": false, "next_page": nil, "data": data])
    }

    private func capture(_ id: String, _ form: Form, route: String) -> Reply {
        if let refusal = check(form, allowed: ["amount_to_capture", "metadata", "expand"], expandable: ["payment_method"], route: route) {
            return refusal
        }
        guard var intent = intents[id] else { return missing("payment_intent", id) }
        guard intent.status == "requires_capture" else {
            return error(
                400,
                type: "invalid_request_error",
                code: "payment_intent_unexpected_state",
                message: "This PaymentIntent could not be captured because it has a status of \(intent.status)."
            )
        }
        let amount = form["amount_to_capture"].flatMap { Int64($0) } ?? intent.amountCapturable
        guard amount > 0, amount <= intent.amountCapturable else {
            return error(
                400,
                type: "invalid_request_error",
                code: "amount_too_large",
                message: "The amount to capture must be at most the amount capturable, \(intent.amountCapturable).",
                param: "amount_to_capture"
            )
        }
        intent.status = "succeeded"
        intent.amountReceived = amount
        intent.amountCapturable = 0
        intents[id] = intent
        return ok(json(intent, expand: form.values("expand[]")))
    }

    private func cancel(_ id: String, _ form: Form, route: String) -> Reply {
        if let refusal = check(form, allowed: ["cancellation_reason", "expand"], expandable: ["payment_method"], route: route) {
            return refusal
        }
        guard var intent = intents[id] else { return missing("payment_intent", id) }
        let cancelable = ["requires_payment_method", "requires_capture", "requires_confirmation", "requires_action", "processing"]
        guard cancelable.contains(intent.status) else {
            return error(
                400,
                type: "invalid_request_error",
                code: "payment_intent_unexpected_state",
                message:
                    "You cannot cancel this PaymentIntent because it has a status of \(intent.status). Only a PaymentIntent with one of the following statuses may be canceled: \(cancelable.joined(separator: ", "))."
            )
        }
        intent.status = "canceled"
        intent.amountCapturable = 0
        intents[id] = intent
        return ok(json(intent, expand: form.values("expand[]")))
    }

    // MARK: - Refunds

    private func createRefund(_ form: Form, route: String) -> Reply {
        let allowed: Set = ["payment_intent", "charge", "amount", "reason", "metadata", "expand"]
        if let refusal = check(form, allowed: allowed, expandable: [], route: route) { return refusal }
        guard let id = form["payment_intent"] else {
            return invalid(route, code: "parameter_missing", "Missing required param: payment_intent.", param: "payment_intent")
        }
        if let reason = form["reason"], !["duplicate", "fraudulent", "requested_by_customer"].contains(reason) {
            return invalid(
                route,
                code: "parameter_invalid_string",
                "Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer",
                param: "reason"
            )
        }
        guard var intent = intents[id] else { return missing("payment_intent", id) }
        guard intent.status == "succeeded" else {
            return error(
                400,
                type: "invalid_request_error",
                code: "charge_not_refundable",
                message: "This PaymentIntent does not have a successful charge to refund."
            )
        }
        let left = intent.amountReceived - intent.amountRefunded
        let amount = form["amount"].flatMap { Int64($0) } ?? left
        guard amount > 0, amount <= left else {
            return error(
                400,
                type: "invalid_request_error",
                code: "amount_too_large",
                message: "Refund amount is greater than unrefunded amount on charge (\(left))",
                param: "amount"
            )
        }
        intent.amountRefunded += amount
        intents[id] = intent
        let refund = Refund(
            id: nextID("re"),
            amount: amount,
            currency: intent.currency,
            paymentIntent: id,
            reason: form["reason"],
            metadata: form.hash("metadata")
        )
        refunds[refund.id] = refund
        return ok([
            "id": .string(refund.id), "object": "refund", "amount": .int(amount), "currency": .string(refund.currency),
            "payment_intent": .string(id), "charge": JSON(intent.latestCharge), "status": "succeeded", "reason": JSON(refund.reason),
            "metadata": .object(refund.metadata.mapValues { .string($0) }), "failure_reason": nil,
        ])
    }

    // MARK: - Checks and shapes

    /// Stripe refuses a parameter it does not know, an expansion it does not offer, and
    /// metadata past its limits (keys of 40 characters, values of 500).
    private func check(_ form: Form, allowed: Set<String>, expandable: Set<String>, route: String) -> Reply? {
        for field in form.fields {
            let parameter = String(field.name.prefix { $0 != "[" })
            guard allowed.contains(parameter) else {
                return invalid(route, code: "parameter_unknown", "Received unknown parameter: \(field.name)", param: field.name)
            }
        }
        for path in form.values("expand[]") where !expandable.contains(path) {
            return invalid(route, code: "parameter_invalid", "This property cannot be expanded (\(path)).", param: "expand")
        }
        for (key, value) in form.hash("metadata") where key.count > 40 || value.count > 500 || value.isEmpty {
            return invalid(route, code: "parameter_invalid_string", "Invalid metadata[\(key)]", param: "metadata[\(key)]")
        }
        return nil
    }

    /// `metadata['key']:'value'` of Stripe's search query language, quotes escaped with `\`.
    static func metadataClause(_ query: String) -> (key: String, value: String)? {
        let prefix = "metadata['"
        guard query.hasPrefix(prefix), let keyEnd = query.range(of: "']:'") else { return nil }
        let key = String(query[query.index(query.startIndex, offsetBy: prefix.count)..<keyEnd.lowerBound])
        var value = ""
        var escaped = false
        var rest = query[keyEnd.upperBound...]
        while let character = rest.first {
            rest = rest.dropFirst()
            if escaped {
                value.append(character)
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == "'" {
                return rest.isEmpty ? (key, value) : nil
            } else {
                value.append(character)
            }
        }
        return nil
    }

    private func json(_ intent: Intent, expand: [String]) -> JSON {
        let paymentMethod: JSON =
            if let method = intent.paymentMethod {
                expand.contains("payment_method") ? json(method) : .string(method.id)
            } else {
                nil
            }
        var lastPaymentError: JSON = nil
        if let failure = intent.lastPaymentError {
            lastPaymentError = [
                "type": "card_error", "code": .string(failure.code), "decline_code": JSON(failure.declineCode),
                "message": .string(failure.message), "charge": JSON(intent.latestCharge),
                "payment_method": intent.paymentMethod.map { json($0) } ?? nil,
            ]
        }
        return [
            "id": .string(intent.id), "object": "payment_intent", "amount": .int(intent.amount),
            "amount_capturable": .int(intent.amountCapturable), "amount_received": .int(intent.amountReceived),
            "capture_method": .string(intent.captureMethod), "confirmation_method": "automatic", "created": .int(intent.created),
            "currency": .string(intent.currency), "livemode": false, "status": .string(intent.status),
            "client_secret": .string("\(intent.id)_secret_fake"),
            "automatic_payment_methods": ["enabled": true, "allow_redirects": "never"],
            "metadata": .object(intent.metadata.mapValues { .string($0) }), "payment_method": paymentMethod,
            "latest_charge": JSON(intent.latestCharge), "last_payment_error": lastPaymentError,
            "next_action": intent.nextActionURL.map { ["type": "redirect_to_url", "redirect_to_url": ["url": .string($0), "return_url": nil]] }
                ?? nil,
        ]
    }

    private func json(_ method: PaymentMethod) -> JSON {
        [
            "id": .string(method.id), "object": "payment_method", "type": "card",
            "card": [
                "brand": .string(method.brand), "last4": .string(method.last4), "exp_month": .int(Int64(method.expMonth)),
                "exp_year": .int(Int64(method.expYear)), "country": "US", "funding": "credit",
            ],
        ]
    }

    private func nextID(_ prefix: String) -> String {
        number += 1
        return "\(prefix)_fake\(number)"
    }

    private func ok(_ body: JSON) -> Reply { Reply(status: 200, body: body.text) }

    private func missing(_ object: String, _ id: String) -> Reply {
        error(404, type: "invalid_request_error", code: "resource_missing", message: "No such \(object): '\(id)'", param: "id")
    }

    /// A request Stripe would refuse before running anything: our adapter's fault.
    private func invalid(_ route: String, code: String, _ message: String, param: String? = nil) -> Reply {
        problems.append("\(route): \(message)")
        var reply = error(400, type: "invalid_request_error", code: code, message: message, param: param)
        reply.kept = false
        return reply
    }

    private func error(
        _ status: Int,
        type: String,
        code: String? = nil,
        declineCode: String? = nil,
        message: String,
        param: String? = nil,
        extra: [String: JSON] = [:]
    ) -> Reply {
        var error: [String: JSON] = ["type": .string(type), "message": .string(message)]
        if let code { error["code"] = .string(code) }
        if let declineCode { error["decline_code"] = .string(declineCode) }
        if let param { error["param"] = .string(param) }
        error.merge(extra) { $1 }
        return Reply(status: status, body: JSON.object(["error": .object(error)]).text)
    }
}

extension FakeStripe {
    /// Runs a fresh fake on a free loopback port for `body`, which gets it and its base URL.
    static func with(_ body: @Sendable (FakeStripe, String) async throws -> Void) async throws {
        let fake = FakeStripe()
        try await withLocalHTTPServer(label: "fake-stripe") { request in
            let body = try await request.body.collect(upTo: 1 << 20)
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            let incoming = Incoming(
                method: request.method.rawValue,
                path: request.uri.path,
                query: request.uri.query ?? "",
                headers: headers,
                body: String(buffer: body)
            )
            if let stall = await fake.takeStall() { try await Task.sleep(for: stall) }
            let reply = await fake.respond(to: incoming)
            return Response(
                status: .init(code: reply.status),
                headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: reply.body))
            )
        } _: { port in
            try await body(fake, "http://127.0.0.1:\(port)")
        }
    }
}
