import Foundation
import PaymentAPI
import Platform
import SQLKit

/// Payments, their attempts, refunds, history and ledger in SQL: one implementation for
/// SQLite and PostgreSQL.
///
/// Every provider call is recorded before it is made (`pending_action`, a `pending`
/// refund) and its answer applied afterwards in a second transaction, with the payment's
/// row locked; so a process killed in between leaves a record the reconciler finishes,
/// and two answers for the same call (a webhook and the reply, a replayed webhook) apply once.
struct PaymentStore: Sendable {
    let database: any Database
    let outbox: EventOutbox

    init(database: any Database) {
        self.database = database
        self.outbox = EventOutbox(database: database, source: "/payments")
    }

    /// What a request to charge an order comes to.
    enum Start: Sendable {
        /// A new attempt is recorded: call the provider.
        case call(Payment)
        /// The same request was made before (same key, same body): its payment.
        case existing(Payment)
    }

    /// The request to charge an order, as recorded.
    struct ChargeRequest: Sendable {
        var orderID: String
        var customerID: Int64?
        var amount: Int64
        var currency: String
        var captureMethod: CaptureMethod
        var provider: String
        var idempotencyKey: String
        /// What the request said, without the card: the same key with another body is a conflict.
        var fingerprint: String
        var card: CardResource?
    }

    /// Records a new payment for the order, or a new attempt on a failed one, before the
    /// provider is called; answers the earlier payment for a repeated request.
    func start(_ request: ChargeRequest, at now: Date) async throws -> Start {
        do {
            return try await startOnce(request, at: now)
        } catch  where DatabaseErrors.isUniqueViolation(error) {
            // Two first requests for one order raced; the loser reads what the winner wrote.
            return try await startOnce(request, at: now)
        }
    }

    private func startOnce(_ request: ChargeRequest, at now: Date) async throws -> Start {
        let micros = now.microsecondsSince1970
        return try await database.transaction { sql -> Start in
            guard var payment = try await Self.payment(orderID: request.orderID, locked: true, in: sql) else {
                let payment = Payment(
                    id: PaymentRules.newID(),
                    orderID: request.orderID,
                    customerID: request.customerID,
                    status: .processing,
                    amount: request.amount,
                    currency: request.currency,
                    captureMethod: request.captureMethod,
                    amountCapturable: 0,
                    amountCaptured: 0,
                    amountRefunded: 0,
                    refundPending: 0,
                    provider: request.provider,
                    providerReference: nil,
                    attempt: 1,
                    pendingAction: .authorize,
                    pendingAmount: request.amount,
                    card: request.card,
                    failure: nil,
                    nextActionURL: nil,
                    authorizationExpiresAt: nil,
                    createdAt: now,
                    updatedAt: now
                )
                try await sql.raw(
                    """
                    INSERT INTO payments (id, order_id, customer_id, status, amount, currency, capture_method, provider, attempt,
                        pending_action, pending_amount, card_brand, card_last4, card_exp_month, card_exp_year, created_at, updated_at)
                    VALUES (\(bind: payment.id), \(bind: payment.orderID), \(bind: payment.customerID), \(bind: payment.status.rawValue),
                        \(bind: payment.amount), \(bind: payment.currency), \(bind: payment.captureMethod.rawValue), \(bind: payment.provider),
                        1, 'authorize', \(bind: payment.amount), \(bind: payment.card?.brand), \(bind: payment.card?.last4),
                        \(bind: payment.card?.expMonth), \(bind: payment.card?.expYear), \(bind: micros), \(bind: micros))
                    """
                ).run()
                try await Self.recordAttempt(payment, request: request, at: micros, in: sql)
                try await Self.transition(payment.id, from: nil, to: .processing, cause: "charge requested", at: micros, in: sql)
                return .call(payment)
            }
            guard !payment.isClosure else {
                throw PaymentError.conflict("Order \(request.orderID) was closed before its charge arrived; nothing was charged")
            }
            if let fingerprint = try await sql.raw(
                """
                SELECT fingerprint FROM payment_attempts
                WHERE payment_id = \(bind: payment.id) AND idempotency_key = \(bind: request.idempotencyKey)
                """
            ).first(decodingColumn: "fingerprint", as: String.self) {
                guard fingerprint == request.fingerprint else {
                    throw PaymentError.conflict("The idempotency key was used with another request")
                }
                return .existing(payment)
            }
            guard payment.status == .failed || payment.status == .requiresPaymentMethod else {
                throw PaymentError.conflict("Order \(request.orderID) already has a payment that is \(payment.status.rawValue)")
            }
            // A failed attempt whose charge turned up after all holds money: no second card.
            let moved = try await Self.amounts(payment.id, in: sql)
            guard moved.authorized == 0, payment.amountCaptured == 0 else {
                throw PaymentError.conflict("Order \(request.orderID) has a charge that the provider reported after it failed")
            }
            guard payment.amount == request.amount, payment.currency == request.currency, payment.customerID == request.customerID else {
                throw PaymentError.conflict("Order \(request.orderID) has a payment of another amount, currency or customer")
            }
            guard payment.attempt < PaymentRules.maxAttempts else {
                throw PaymentError.conflict("Order \(request.orderID) has had \(PaymentRules.maxAttempts) attempts")
            }
            let before = payment.status
            payment.attempt += 1
            payment.status = .processing
            payment.pendingAction = .authorize
            payment.pendingAmount = payment.amount
            payment.failure = nil
            payment.card = request.card
            payment.providerReference = nil
            payment.captureMethod = request.captureMethod
            payment.updatedAt = now
            try await sql.raw(
                """
                UPDATE payments SET attempt = \(bind: payment.attempt), status = 'processing', pending_action = 'authorize',
                    pending_amount = amount, failure_code = NULL, failure_message = NULL, provider_reference = NULL,
                    capture_method = \(bind: payment.captureMethod.rawValue), amount_authorized = 0, amount_voided = 0,
                    card_brand = \(bind: payment.card?.brand), card_last4 = \(bind: payment.card?.last4),
                    card_exp_month = \(bind: payment.card?.expMonth), card_exp_year = \(bind: payment.card?.expYear),
                    updated_at = \(bind: micros)
                WHERE id = \(bind: payment.id)
                """
            ).run()
            try await Self.recordAttempt(payment, request: request, at: micros, in: sql)
            try await Self.transition(payment.id, from: before, to: .processing, cause: "another card", at: micros, in: sql)
            return .call(payment)
        }
    }

    /// An order to close to charges, as Orders describes it.
    struct Closure: Sendable {
        var orderID: String
        var customerID: Int64?
        var amount: Int64
        var currency: String
        var provider: String
    }

    /// Records a `canceled` payment with no attempt for an order that has none, so every
    /// later charge for it is refused (``Payment/isClosure``): the one-payment-per-order
    /// index makes the closure and a charge arriving at the same moment exclude each other.
    /// `nil` when the order is closed, now or before; its payment when it has a real one.
    func close(_ closure: Closure, at now: Date) async throws -> Payment? {
        do {
            return try await closeOnce(closure, at: now)
        } catch  where DatabaseErrors.isUniqueViolation(error) {
            // A charge (or another closure) for the order landed first: read what it wrote.
            return try await closeOnce(closure, at: now)
        }
    }

    private func closeOnce(_ closure: Closure, at now: Date) async throws -> Payment? {
        let micros = now.microsecondsSince1970
        return try await database.transaction { sql -> Payment? in
            if let payment = try await Self.payment(orderID: closure.orderID, locked: true, in: sql) {
                return payment.isClosure ? nil : payment
            }
            let id = PaymentRules.newID()
            try await sql.raw(
                """
                INSERT INTO payments (id, order_id, customer_id, status, amount, currency, capture_method, provider, attempt,
                    failure_code, failure_message, created_at, updated_at)
                VALUES (\(bind: id), \(bind: closure.orderID), \(bind: closure.customerID), 'canceled', \(bind: closure.amount),
                    \(bind: closure.currency), 'automatic', \(bind: closure.provider), 0, \(bind: PaymentResource.closureCode),
                    'The order was closed before a charge reached it; nothing was charged', \(bind: micros), \(bind: micros))
                """
            ).run()
            try await Self.transition(id, from: nil, to: .canceled, cause: "order closed before any charge", at: micros, in: sql)
            return nil
        }
    }

    /// Records that `action` is about to be asked of the provider for a payment in one of
    /// `states`; answers the payment as it is when the same action is already pending.
    func begin(_ action: Payment.PendingAction, amount: Int64?, of id: String, at now: Date) async throws -> Payment {
        try await database.transaction { sql -> Payment in
            guard var payment = try await Self.payment(id: id, locked: true, in: sql) else { throw PaymentError.notFound("Payment \(id)") }
            if payment.pendingAction == action {
                guard action != .capture || amount == nil || amount == payment.pendingAmount else {
                    throw PaymentError.conflict("Payment \(id) is being captured for \(payment.pendingAmount ?? 0)")
                }
                return payment
            }
            guard payment.pendingAction == nil else {
                throw PaymentError.conflict("Payment \(id) is waiting for the provider to \(payment.pendingAction?.rawValue ?? "")")
            }
            switch action {
            case .capture:
                guard payment.status == .requiresCapture else {
                    throw PaymentError.conflict("Payment \(id) is \(payment.status.rawValue); only one that requires_capture can be captured")
                }
                let amount = amount ?? payment.amountCapturable
                guard amount > 0 else { throw PaymentError.invalid(field: "amount", message: "Must be a positive amount in minor units") }
                // More than is held is a clash with the payment's state, not a malformed request.
                guard amount <= payment.amountCapturable else {
                    throw PaymentError.conflict("At most \(payment.amountCapturable) of payment \(id) can be captured")
                }
                payment.pendingAmount = amount
            case .cancel:
                guard payment.status == .requiresCapture || payment.status == .requiresAction else {
                    throw PaymentError.conflict("Payment \(id) is \(payment.status.rawValue) and cannot be voided")
                }
                payment.pendingAmount = nil
            case .authorize:
                throw PaymentError.conflict("A charge starts with start(_:at:)")
            }
            payment.pendingAction = action
            try await sql.raw(
                """
                UPDATE payments SET pending_action = \(bind: action.rawValue), pending_amount = \(bind: payment.pendingAmount),
                    updated_at = \(bind: now.microsecondsSince1970)
                WHERE id = \(bind: id)
                """
            ).run()
            return payment
        }
    }

    /// Cancels a payment that holds no money (a declined one) without asking the provider.
    func cancelUnfunded(_ id: String, at now: Date) async throws -> Payment {
        let payment = try await database.transaction { sql -> Payment in
            guard var payment = try await Self.payment(id: id, locked: true, in: sql) else { throw PaymentError.notFound("Payment \(id)") }
            guard payment.status == .failed || payment.status == .requiresPaymentMethod else { return payment }
            let before = payment.status
            payment.status = .canceled
            payment.pendingAction = nil
            try await Self.save(payment, at: now, in: sql)
            try await Self.transition(id, from: before, to: .canceled, cause: "canceled", at: now.microsecondsSince1970, in: sql)
            return payment
        }
        return payment
    }

    /// Applies what the provider says of the payment's current attempt: moves the payment
    /// forward (never back), books each movement of money once, and writes its events.
    /// `failure` is a refusal of the call itself (not a decline), which fails the attempt.
    @discardableResult
    func apply(
        _ intent: ProviderIntent?,
        failure: PaymentFailure? = nil,
        to id: String,
        attempt: Int,
        cause: String,
        authorizationTTL: Duration,
        at now: Date
    ) async throws -> Payment {
        let micros = now.microsecondsSince1970
        let payment = try await database.transaction { sql -> Payment in
            guard var payment = try await Self.payment(id: id, locked: true, in: sql) else { throw PaymentError.notFound("Payment \(id)") }
            var amounts = try await Self.amounts(id, in: sql)
            // An answer for an attempt that has since been replaced changes nothing.
            guard payment.attempt == attempt else { return payment }
            let before = payment.status
            if let intent {
                if payment.providerReference == nil { payment.providerReference = intent.reference }
                if let card = intent.card, payment.card == nil { payment.card = card }
                let authorized = intent.status == .requiresCapture || intent.status == .succeeded || intent.amountReceived > 0
                if authorized && amounts.authorized == 0 {
                    amounts.authorized = intent.amount
                    try await Self.book(.authorization, intent.amount, of: id, reference: intent.reference, at: micros, in: sql)
                }
                if intent.amountReceived > payment.amountCaptured {
                    try await Self.book(
                        .capture,
                        intent.amountReceived - payment.amountCaptured,
                        of: id,
                        reference: intent.reference,
                        at: micros,
                        in: sql
                    )
                    payment.amountCaptured = intent.amountReceived
                }
                var target = intent.status
                if PaymentRules.rank(target) < PaymentRules.rank(payment.status) { target = payment.status }
                // A final state stays: a late report of another final state is ignored. But
                // money the provider reports for this attempt overrides its failure (a charge
                // that was given up as lost and turned up).
                let holdsMoney = authorized || intent.amountReceived > 0
                if PaymentRules.rank(payment.status) == 3, !(payment.status == .failed && holdsMoney) { target = payment.status }
                if payment.status == .failed, target != .failed { payment.failure = nil }
                payment.status = target
                switch target {
                case .requiresCapture:
                    payment.amountCapturable = max(0, amounts.authorized - payment.amountCaptured - amounts.voided)
                    if payment.authorizationExpiresAt == nil {
                        payment.authorizationExpiresAt = now.addingTimeInterval(Double(authorizationTTL.components.seconds))
                    }
                case .succeeded, .canceled:
                    // What was authorized and not captured is released.
                    let release = amounts.authorized - payment.amountCaptured - amounts.voided
                    if release > 0 {
                        try await Self.book(.void, release, of: id, reference: intent.reference, at: micros, in: sql)
                        amounts.voided += release
                    }
                    payment.amountCapturable = 0
                case .failed:
                    payment.failure = intent.failure ?? PaymentFailure(code: "processing_error", message: "The provider refused the payment")
                    payment.amountCapturable = 0
                default:
                    break
                }
                payment.nextActionURL = target == .requiresAction ? intent.nextActionURL : nil
            } else if let failure, payment.status == .processing || payment.status == .requiresAction {
                payment.status = .failed
                payment.failure = failure
            }
            // The recorded call is answered once its outcome shows.
            switch payment.pendingAction {
            case .authorize?: if payment.status != .processing || failure != nil { payment.pendingAction = nil }
            case .capture?: if payment.status != .requiresCapture || failure != nil { payment.pendingAction = nil }
            case .cancel?:
                if payment.status != .requiresCapture && payment.status != .requiresAction || failure != nil { payment.pendingAction = nil }
            case nil: break
            }
            if payment.pendingAction == nil { payment.pendingAmount = nil }
            try await Self.save(payment, amounts: amounts, at: now, in: sql)
            if payment.status != before {
                try await Self.transition(id, from: before, to: payment.status, cause: cause, at: micros, in: sql)
                switch payment.status {
                case .requiresCapture: try await outbox.append(PaymentAuthorized(payment.eventData), at: now, in: sql)
                case .succeeded: try await outbox.append(PaymentCompleted(payment.eventData), at: now, in: sql)
                case .canceled: try await outbox.append(PaymentCanceled(payment.eventData), at: now, in: sql)
                case .failed:
                    try await outbox.append(
                        PaymentFailed(payment.eventData, failure: payment.failure ?? PaymentFailure(code: "unknown", message: "")),
                        at: now,
                        in: sql
                    )
                default: break
                }
            }
            return payment
        }
        outbox.committed()
        return payment
    }

    // MARK: Refunds

    /// Records a refund before the provider is asked, holding its amount against what may
    /// still be refunded; the same key answers the refund recorded before.
    func beginRefund(
        of id: String,
        amount: Int64?,
        reason: String,
        idempotencyKey: String,
        at now: Date
    ) async throws -> (refund: RefundResource, payment: Payment) {
        do {
            return try await beginRefundOnce(of: id, amount: amount, reason: reason, idempotencyKey: idempotencyKey, at: now)
        } catch  where DatabaseErrors.isUniqueViolation(error) {
            return try await beginRefundOnce(of: id, amount: amount, reason: reason, idempotencyKey: idempotencyKey, at: now)
        }
    }

    private func beginRefundOnce(
        of id: String,
        amount: Int64?,
        reason: String,
        idempotencyKey: String,
        at now: Date
    ) async throws -> (refund: RefundResource, payment: Payment) {
        let micros = now.microsecondsSince1970
        return try await database.transaction { sql in
            guard var payment = try await Self.payment(id: id, locked: true, in: sql) else { throw PaymentError.notFound("Payment \(id)") }
            if let existing = try await sql.raw(
                "SELECT \(unsafeRaw: Self.refundColumns) FROM payment_refunds r WHERE r.payment_id = \(bind: id) AND r.idempotency_key = \(bind: idempotencyKey)"
            ).first() {
                let refund = try Self.refund(from: existing, currency: payment.currency)
                guard amount == nil || amount == refund.amount, refund.reason == reason else {
                    throw PaymentError.conflict("The idempotency key was used with another refund")
                }
                return (refund, payment)
            }
            guard payment.status == .succeeded else {
                throw PaymentError.conflict("Payment \(id) is \(payment.status.rawValue); only a succeeded payment can be refunded")
            }
            let count =
                try await sql.raw("SELECT COUNT(*) AS n FROM payment_refunds WHERE payment_id = \(bind: id)").first(decodingColumn: "n", as: Int.self)
                ?? 0
            guard count < PaymentRules.maxRefunds else { throw PaymentError.conflict("Payment \(id) has \(PaymentRules.maxRefunds) refunds") }
            let refundable = payment.refundable
            guard refundable > 0 else { throw PaymentError.conflict("Nothing of payment \(id) is left to refund") }
            let value = amount ?? refundable
            guard value > 0, value <= refundable else {
                throw PaymentError.conflict("At most \(refundable) of payment \(id) is left to refund")
            }
            let refund = RefundResource(
                id: PaymentRules.newID(prefix: "re"),
                paymentID: id,
                amount: value,
                currency: payment.currency,
                reason: reason,
                status: .pending,
                createdAt: now
            )
            // The conditional update is the guard the database applies atomically, so two
            // refunds racing on an engine without row locks still cannot exceed the capture.
            let held = try await sql.raw(
                """
                UPDATE payments SET refund_pending = refund_pending + \(bind: value), updated_at = \(bind: micros)
                WHERE id = \(bind: id) AND amount_captured - amount_refunded - refund_pending >= \(bind: value)
                RETURNING id
                """
            ).first()
            guard held != nil else { throw PaymentError.conflict("Payment \(id) changed meanwhile") }
            try await sql.raw(
                """
                INSERT INTO payment_refunds (id, payment_id, amount, reason, status, idempotency_key, created_at, updated_at)
                VALUES (\(bind: refund.id), \(bind: id), \(bind: value), \(bind: reason), 'pending', \(bind: idempotencyKey), \(bind: micros), \(bind: micros))
                """
            ).run()
            payment.refundPending += value
            return (refund, payment)
        }
    }

    /// Applies the provider's answer for a pending refund, once.
    @discardableResult
    func finishRefund(_ refundID: String, with answer: ProviderRefund, at now: Date) async throws -> RefundResource {
        let micros = now.microsecondsSince1970
        let refund = try await database.transaction { sql -> RefundResource in
            guard
                let paymentID = try await sql.raw("SELECT payment_id FROM payment_refunds WHERE id = \(bind: refundID)").first(
                    decodingColumn: "payment_id",
                    as: String.self
                ),
                var payment = try await Self.payment(id: paymentID, locked: true, in: sql),
                let row = try await sql.raw("SELECT \(unsafeRaw: Self.refundColumns) FROM payment_refunds r WHERE r.id = \(bind: refundID)").first()
            else { throw PaymentError.notFound("Refund \(refundID)") }
            var refund = try Self.refund(from: row, currency: payment.currency)
            guard refund.status == .pending else { return refund }
            guard answer.status != .pending else {
                // The provider took it and settles later: its reference is kept, so the
                // reconciler asks about this refund instead of sending it again.
                try await sql.raw(
                    """
                    UPDATE payment_refunds SET provider_reference = \(bind: answer.reference), updated_at = \(bind: micros)
                    WHERE id = \(bind: refundID)
                    """
                ).run()
                return refund
            }
            refund.status = answer.status
            if answer.status == .succeeded {
                payment.amountRefunded += refund.amount
                try await Self.book(.refund, refund.amount, of: paymentID, reference: answer.reference, at: micros, in: sql)
            }
            payment.refundPending -= refund.amount
            try await sql.raw(
                """
                UPDATE payments SET amount_refunded = \(bind: payment.amountRefunded), refund_pending = \(bind: payment.refundPending),
                    updated_at = \(bind: micros) WHERE id = \(bind: paymentID)
                """
            ).run()
            try await sql.raw(
                """
                UPDATE payment_refunds SET status = \(bind: answer.status.rawValue), provider_reference = \(bind: answer.reference),
                    failure = \(bind: answer.failure), updated_at = \(bind: micros) WHERE id = \(bind: refundID)
                """
            ).run()
            if answer.status == .succeeded {
                try await outbox.append(
                    PaymentRefunded(payment.eventData, refundID: refundID, refundAmount: refund.amount, amountRefunded: payment.amountRefunded),
                    at: now,
                    in: sql
                )
            }
            return refund
        }
        outbox.committed()
        return refund
    }

    // MARK: Reads

    func payment(id: String) async throws -> Payment? {
        try await database.read { sql in try await Self.payment(id: id, locked: false, in: sql) }
    }

    func payment(orderID: String) async throws -> Payment? {
        try await database.read { sql in try await Self.payment(orderID: orderID, locked: false, in: sql) }
    }

    /// The payment with its refunds and history, as the API shows it.
    func resource(of payment: Payment) async throws -> PaymentResource {
        let (refunds, history) = try await database.read { sql in
            let refunds = try await sql.raw(
                "SELECT \(unsafeRaw: Self.refundColumns) FROM payment_refunds r WHERE r.payment_id = \(bind: payment.id) ORDER BY r.seq"
            ).all().map { try Self.refund(from: $0, currency: payment.currency) }
            let history = try await sql.raw(
                "SELECT from_status, to_status, cause, request_id, at FROM payment_transitions WHERE payment_id = \(bind: payment.id) ORDER BY id"
            ).all().map { row in
                PaymentTransition(
                    from: try row.decodeNil(column: "from_status")
                        ? nil : PaymentStatus(rawValue: try row.decode(column: "from_status", as: String.self)),
                    to: PaymentStatus(rawValue: try row.decode(column: "to_status", as: String.self)) ?? .processing,
                    cause: try row.decode(column: "cause", as: String.self),
                    requestID: try row.decode(column: "request_id", as: String?.self),
                    at: Date(microsecondsSince1970: try row.decode(column: "at", as: Int64.self))
                )
            }
            return (refunds, history)
        }
        return PaymentResource(
            id: payment.id,
            orderID: payment.orderID,
            customerID: payment.customerID,
            status: payment.status,
            amount: payment.amount,
            currency: payment.currency,
            captureMethod: payment.captureMethod,
            amountCapturable: payment.amountCapturable,
            amountCaptured: payment.amountCaptured,
            amountRefunded: payment.amountRefunded,
            provider: payment.provider,
            card: payment.card,
            failure: payment.failure,
            nextActionURL: payment.nextActionURL,
            authorizationExpiresAt: payment.authorizationExpiresAt,
            refunds: refunds,
            history: history,
            createdAt: payment.createdAt,
            updatedAt: payment.updatedAt
        )
    }

    func refund(id: String) async throws -> RefundResource? {
        try await database.read { sql in
            guard
                let row = try await sql.raw(
                    """
                    SELECT \(unsafeRaw: Self.refundColumns), p.currency FROM payment_refunds r JOIN payments p ON p.id = r.payment_id WHERE r.id = \(bind: id)
                    """
                ).first()
            else { return nil }
            return try Self.refund(from: row, currency: try row.decode(column: "currency", as: String.self))
        }
    }

    /// A page of payments, newest first by default; `customerID` limits it to one customer's.
    func list(_ query: ListQuery<PaymentSortField>, status: PaymentStatus?, orderID: String?, customerID: Int64?) async throws -> ListPage<Payment> {
        var filter: SQLQueryString = "1 = 1"
        if let status {
            filter.appendInterpolation(unsafeRaw: " AND status = ")
            filter.appendInterpolation(bind: status.rawValue)
        }
        if let orderID {
            filter.appendInterpolation(unsafeRaw: " AND order_id = ")
            filter.appendInterpolation(bind: orderID)
        }
        if let customerID {
            filter.appendInterpolation(unsafeRaw: " AND customer_id = ")
            filter.appendInterpolation(bind: customerID)
        }
        let list = KeysetList(
            select: "SELECT \(Self.columns) FROM payments",
            count: "SELECT COUNT(*) AS total FROM payments",
            filter: filter,
            keyset: ["seq"],
            descending: query.sort.descending,
            sortParameter: query.sort.parameter,
            decode: Self.payment(from:),
            cursorValues: { [$0.sequence] }
        )
        return try await list.fetch(query.pagination) { try await database.read($0) }
    }

    /// Payments whose provider call is unanswered, or that wait on the provider, last
    /// touched before `cutoff`: the reconciler's work.
    /// Each is claimed by moving its `updated_at` to `now` (rows another instance's
    /// reconciler holds are skipped), so the reconcilers of several instances work on
    /// different payments and a claimed one waits a full period before it is looked at again.
    func unsettled(before cutoff: Date, now: Date, limit: Int = 100) async throws -> [Payment] {
        try await database.transaction { sql in
            let payments = try await sql.raw(
                """
                SELECT \(unsafeRaw: Self.columns) FROM payments
                WHERE (pending_action IS NOT NULL OR status IN ('processing', 'requires_action')) AND updated_at <= \(bind: cutoff.microsecondsSince1970)
                ORDER BY updated_at LIMIT \(bind: limit)\(unsafeRaw: sql.forUpdateSkipLocked)
                """
            ).all().map(Self.payment(from:))
            for payment in payments {
                try await sql.raw("UPDATE payments SET updated_at = \(bind: now.microsecondsSince1970) WHERE id = \(bind: payment.id)").run()
            }
            return payments
        }
    }

    /// Refunds still `pending` last touched before `cutoff`.
    /// Each with the charge's reference and, once the provider answered `pending`, the refund's own.
    func pendingRefunds(
        before cutoff: Date,
        now: Date,
        limit: Int = 100
    ) async throws -> [(refund: RefundResource, reference: String?, refundReference: String?)] {
        // Claimed as payments are (see ``unsettled(before:now:limit:)``).
        try await database.transaction { sql in
            let skipLocked = sql.dialect.name == "sqlite" ? "" : " FOR UPDATE OF r SKIP LOCKED"
            let rows = try await sql.raw(
                """
                SELECT \(unsafeRaw: Self.refundColumns), p.currency, p.provider_reference, r.provider_reference AS refund_reference
                FROM payment_refunds r JOIN payments p ON p.id = r.payment_id
                WHERE r.status = 'pending' AND r.updated_at <= \(bind: cutoff.microsecondsSince1970)
                ORDER BY r.updated_at LIMIT \(bind: limit)\(unsafeRaw: skipLocked)
                """
            ).all().map { row in
                (
                    try Self.refund(from: row, currency: try row.decode(column: "currency", as: String.self)),
                    try row.decode(column: "provider_reference", as: String?.self),
                    try row.decode(column: "refund_reference", as: String?.self)
                )
            }
            for (refund, _, _) in rows {
                try await sql.raw("UPDATE payment_refunds SET updated_at = \(bind: now.microsecondsSince1970) WHERE id = \(bind: refund.id)").run()
            }
            return rows
        }
    }

    /// Authorizations not captured by their expiry.
    func expiredAuthorizations(at now: Date, limit: Int = 100) async throws -> [Payment] {
        try await database.read { sql in
            try await sql.raw(
                """
                SELECT \(unsafeRaw: Self.columns) FROM payments
                WHERE status = 'requires_capture' AND pending_action IS NULL AND authorization_expires_at <= \(bind: now.microsecondsSince1970)
                ORDER BY authorization_expires_at LIMIT \(bind: limit)
                """
            ).all().map(Self.payment(from:))
        }
    }

    /// Marks a refund's row touched, so the reconciler waits before trying it again.
    func touchRefund(_ id: String, at now: Date) async throws {
        try await database.transaction { sql in
            try await sql.raw("UPDATE payment_refunds SET updated_at = \(bind: now.microsecondsSince1970) WHERE id = \(bind: id)").run()
        }
    }

    /// Marks a payment touched (an answer that changed nothing), so the reconciler waits.
    func touch(_ id: String, at now: Date) async throws {
        try await database.transaction { sql in
            try await sql.raw("UPDATE payments SET updated_at = \(bind: now.microsecondsSince1970) WHERE id = \(bind: id)").run()
        }
    }

    /// The ledger's sums for one payment by kind.
    func ledger(of id: String) async throws -> [LedgerKind: Int64] {
        try await database.read { sql in
            let rows = try await sql.raw(
                "SELECT kind, CAST(SUM(amount) AS BIGINT) AS total FROM payment_ledger WHERE payment_id = \(bind: id) GROUP BY kind"
            ).all()
            var sums: [LedgerKind: Int64] = [:]
            for row in rows {
                if let kind = LedgerKind(rawValue: try row.decode(column: "kind", as: String.self)) {
                    sums[kind] = try row.decode(column: "total", as: Int64.self)
                }
            }
            return sums
        }
    }

    // MARK: Rows

    enum LedgerKind: String, Sendable, Hashable, CaseIterable {
        case authorization, capture, void, refund
    }

    struct Amounts: Sendable {
        var authorized: Int64
        var voided: Int64
    }

    static let columns = """
        seq, id, order_id, customer_id, status, amount, currency, capture_method, amount_capturable, amount_captured, amount_refunded,
        refund_pending, provider, provider_reference, attempt, pending_action, pending_amount, card_brand, card_last4, card_exp_month,
        card_exp_year, failure_code, failure_message, next_action_url, authorization_expires_at, created_at, updated_at
        """

    static let refundColumns = "r.id, r.payment_id, r.amount, r.reason, r.status, r.created_at"

    private static func payment(id: String, locked: Bool, in sql: any SQLDatabase) async throws -> Payment? {
        try await sql.raw(
            "SELECT \(unsafeRaw: columns) FROM payments WHERE id = \(bind: id)\(unsafeRaw: locked ? sql.forUpdate : "")"
        ).first().map(payment(from:))
    }

    private static func payment(orderID: String, locked: Bool, in sql: any SQLDatabase) async throws -> Payment? {
        try await sql.raw(
            "SELECT \(unsafeRaw: columns) FROM payments WHERE order_id = \(bind: orderID)\(unsafeRaw: locked ? sql.forUpdate : "")"
        ).first().map(payment(from:))
    }

    private static func amounts(_ id: String, in sql: any SQLDatabase) async throws -> Amounts {
        let row = try await sql.raw("SELECT amount_authorized, amount_voided FROM payments WHERE id = \(bind: id)").first()
        return Amounts(
            authorized: try row?.decode(column: "amount_authorized", as: Int64.self) ?? 0,
            voided: try row?.decode(column: "amount_voided", as: Int64.self) ?? 0
        )
    }

    static func payment(from row: any SQLRow) throws -> Payment {
        let brand = try row.decode(column: "card_brand", as: String?.self)
        let card = try brand.map {
            CardResource(
                brand: $0,
                last4: try row.decode(column: "card_last4", as: String?.self) ?? "",
                expMonth: try row.decode(column: "card_exp_month", as: Int?.self) ?? 0,
                expYear: try row.decode(column: "card_exp_year", as: Int?.self) ?? 0
            )
        }
        let failure = try row.decode(column: "failure_code", as: String?.self).map {
            PaymentFailure(code: $0, message: try row.decode(column: "failure_message", as: String?.self) ?? "")
        }
        var payment = Payment(
            id: try row.decode(column: "id", as: String.self),
            orderID: try row.decode(column: "order_id", as: String.self),
            customerID: try row.decode(column: "customer_id", as: Int64?.self),
            status: PaymentStatus(rawValue: try row.decode(column: "status", as: String.self)) ?? .processing,
            amount: try row.decode(column: "amount", as: Int64.self),
            currency: try row.decode(column: "currency", as: String.self),
            captureMethod: CaptureMethod(rawValue: try row.decode(column: "capture_method", as: String.self)) ?? .automatic,
            amountCapturable: try row.decode(column: "amount_capturable", as: Int64.self),
            amountCaptured: try row.decode(column: "amount_captured", as: Int64.self),
            amountRefunded: try row.decode(column: "amount_refunded", as: Int64.self),
            refundPending: try row.decode(column: "refund_pending", as: Int64.self),
            provider: try row.decode(column: "provider", as: String.self),
            providerReference: try row.decode(column: "provider_reference", as: String?.self),
            attempt: try row.decode(column: "attempt", as: Int.self),
            pendingAction: try row.decode(column: "pending_action", as: String?.self).flatMap(Payment.PendingAction.init(rawValue:)),
            pendingAmount: try row.decode(column: "pending_amount", as: Int64?.self),
            card: card,
            failure: failure,
            nextActionURL: try row.decode(column: "next_action_url", as: String?.self),
            authorizationExpiresAt: try row.decode(column: "authorization_expires_at", as: Int64?.self).map(Date.init(microsecondsSince1970:)),
            createdAt: Date(microsecondsSince1970: try row.decode(column: "created_at", as: Int64.self)),
            updatedAt: Date(microsecondsSince1970: try row.decode(column: "updated_at", as: Int64.self))
        )
        payment.sequence = try row.decode(column: "seq", as: Int64.self)
        return payment
    }

    static func refund(from row: any SQLRow, currency: String) throws -> RefundResource {
        RefundResource(
            id: try row.decode(column: "id", as: String.self),
            paymentID: try row.decode(column: "payment_id", as: String.self),
            amount: try row.decode(column: "amount", as: Int64.self),
            currency: currency,
            reason: try row.decode(column: "reason", as: String.self),
            status: RefundResource.Status(rawValue: try row.decode(column: "status", as: String.self)) ?? .pending,
            createdAt: Date(microsecondsSince1970: try row.decode(column: "created_at", as: Int64.self))
        )
    }

    private static func save(_ payment: Payment, amounts: Amounts? = nil, at now: Date, in sql: any SQLDatabase) async throws {
        var statement: SQLQueryString = """
            UPDATE payments SET status = \(bind: payment.status.rawValue), amount_capturable = \(bind: payment.amountCapturable),
                amount_captured = \(bind: payment.amountCaptured), provider_reference = \(bind: payment.providerReference),
                pending_action = \(bind: payment.pendingAction?.rawValue), pending_amount = \(bind: payment.pendingAmount),
                card_brand = \(bind: payment.card?.brand), card_last4 = \(bind: payment.card?.last4),
                card_exp_month = \(bind: payment.card?.expMonth), card_exp_year = \(bind: payment.card?.expYear),
                failure_code = \(bind: payment.failure?.code), failure_message = \(bind: payment.failure?.message),
                next_action_url = \(bind: payment.nextActionURL),
                authorization_expires_at = \(bind: payment.authorizationExpiresAt?.microsecondsSince1970),
                updated_at = \(bind: now.microsecondsSince1970)
            """
        if let amounts {
            statement.appendInterpolation(unsafeRaw: ", amount_authorized = ")
            statement.appendInterpolation(bind: amounts.authorized)
            statement.appendInterpolation(unsafeRaw: ", amount_voided = ")
            statement.appendInterpolation(bind: amounts.voided)
        }
        statement.appendInterpolation(unsafeRaw: " WHERE id = ")
        statement.appendInterpolation(bind: payment.id)
        try await sql.raw(statement).run()
    }

    private static func recordAttempt(_ payment: Payment, request: ChargeRequest, at micros: Int64, in sql: any SQLDatabase) async throws {
        try await sql.raw(
            """
            INSERT INTO payment_attempts (payment_id, attempt, idempotency_key, fingerprint, created_at)
            VALUES (\(bind: payment.id), \(bind: payment.attempt), \(bind: request.idempotencyKey), \(bind: request.fingerprint), \(bind: micros))
            """
        ).run()
    }

    private static func transition(
        _ id: String,
        from: PaymentStatus?,
        to: PaymentStatus,
        cause: String,
        at micros: Int64,
        in sql: any SQLDatabase
    ) async throws {
        try await sql.raw(
            """
            INSERT INTO payment_transitions (payment_id, from_status, to_status, cause, request_id, at)
            VALUES (\(bind: id), \(bind: from?.rawValue), \(bind: to.rawValue), \(bind: cause), \(bind: RequestIdentifier.current), \(bind: micros))
            """
        ).run()
    }

    private static func book(
        _ kind: LedgerKind,
        _ amount: Int64,
        of id: String,
        reference: String?,
        at micros: Int64,
        in sql: any SQLDatabase
    ) async throws {
        try await sql.raw(
            """
            INSERT INTO payment_ledger (payment_id, kind, amount, reference, at)
            VALUES (\(bind: id), \(bind: kind.rawValue), \(bind: amount), \(bind: reference), \(bind: micros))
            """
        ).run()
    }
}

/// The orders payments are listed in.
enum PaymentSortField: String, SortField {
    case createdAt = "created_at"
}

extension PaymentStore {
    /// Forgets a recorded call the provider refused outright (a capture of more than is
    /// capturable): nothing happened there, so nothing is pending here.
    func clearPending(_ id: String, _ action: Payment.PendingAction, at now: Date) async throws {
        try await database.transaction { sql in
            try await sql.raw(
                """
                UPDATE payments SET pending_action = NULL, pending_amount = NULL, updated_at = \(bind: now.microsecondsSince1970)
                WHERE id = \(bind: id) AND pending_action = \(bind: action.rawValue)
                """
            ).run()
        }
    }

    /// When the payment's current attempt was recorded.
    func attemptStarted(_ payment: Payment) async throws -> Date? {
        try await database.read { sql in
            try await sql.raw(
                "SELECT created_at FROM payment_attempts WHERE payment_id = \(bind: payment.id) AND attempt = \(bind: payment.attempt)"
            ).first(decodingColumn: "created_at", as: Int64.self).map(Date.init(microsecondsSince1970:))
        }
    }
}
