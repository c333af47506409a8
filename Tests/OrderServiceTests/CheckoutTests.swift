import Foundation
import Logging
import OrderAPI
import PaymentAPI
import Platform
import ProductAPI
import SQLKit
import Synchronization
import TestSupport
import Testing

@testable import OrderService

/// Stock in memory, with reservations as Products keeps them: all or nothing, idempotent by id.
final class StubInventory: InventoryClient, Sendable {
    struct State {
        var available: [Int64: Int]
        var reservations: [String: Reservation] = [:]
    }

    let state: Mutex<State>

    init(_ available: [Int64: Int]) { state = Mutex(State(available: available)) }

    var available: [Int64: Int] { state.withLock { $0.available } }

    func reserve(id: String, lines: [ReservationLine], expiresIn: Duration) async throws -> Reservation {
        try state.withLock { state in
            if let existing = state.reservations[id] { return existing }
            for line in lines where (state.available[line.productID] ?? 0) < line.quantity {
                throw InventoryError.outOfStock(productID: line.productID)
            }
            for line in lines { state.available[line.productID, default: 0] -= line.quantity }
            let reservation = Reservation(id: id, lines: lines, state: .held, expiresAt: Date().addingTimeInterval(900))
            state.reservations[id] = reservation
            return reservation
        }
    }

    func commit(id: String) async throws -> Reservation { try move(id, from: .held, to: .committed, giveBack: false) }
    func release(id: String) async throws -> Reservation { try move(id, from: .held, to: .released, giveBack: true) }
    func restock(id: String) async throws -> Reservation { try move(id, from: .committed, to: .returned, giveBack: true) }

    private func move(_ id: String, from: Reservation.State, to: Reservation.State, giveBack: Bool) throws -> Reservation {
        try state.withLock { state in
            guard var reservation = state.reservations[id] else { throw InventoryError.reservationNotFound(id: id) }
            if reservation.state == to { return reservation }
            guard reservation.state == from else { throw InventoryError.conflict("Reservation \(id) is \(reservation.state.rawValue)") }
            reservation.state = to
            if giveBack { for line in reservation.lines { state.available[line.productID, default: 0] += line.quantity } }
            state.reservations[id] = reservation
            return reservation
        }
    }
}

/// Payments as a test scripts them: what a charge answers, what a refund answers, and
/// every key it was called with.
final class StubPayments: PaymentClient, Sendable {
    enum Charge: Sendable {
        case succeed
        case decline
        /// No answer: the caller times out; the payment may appear later (``settle()``).
        case unavailable
        /// Still on its way to Payments until ``answerCharge()``: then refused if the order
        /// was closed to charges meanwhile, as Payments refuses it, and succeeds if not.
        case held
        /// The charge's key is still claimed by a call at another instance (one that died
        /// while charging): 409, the outcome unknown.
        case claimedElsewhere
    }

    struct State {
        var charge: Charge = .succeed
        var payment: PaymentResource?
        var refundAnswers: [RefundResource.Status] = []
        var refunds: [RefundResource] = []
        var refundKeys: [String] = []
        var pending: CheckedContinuation<Void, Never>?
        var charges = 0
        /// Orders closed to charges with no payment.
        var closed: Set<String> = []
    }

    let state = Mutex(State())

    func script(_ charge: Charge) { state.withLock { $0.charge = charge } }

    func createPayment(_ payment: NewPayment, idempotencyKey: String) async throws -> PaymentResource {
        let charge = state.withLock { state in
            state.charges += 1
            return state.charge
        }
        switch charge {
        case .succeed:
            return record(payment, status: .succeeded)
        case .decline:
            _ = record(payment, status: .failed)
            throw PaymentError.declined(code: "card_declined", message: "Declined", paymentID: "pay_declined")
        case .unavailable:
            throw PaymentError.unavailable("no answer in time")
        case .claimedElsewhere:
            throw PaymentError.conflict("A request with this Idempotency-Key is still being processed; retry later")
        case .held:
            await withCheckedContinuation { continuation in state.withLock { $0.pending = continuation } }
            if state.withLock({ $0.payment?.orderID == payment.orderID && $0.payment?.isClosure == true }) {
                throw PaymentError.conflict("Order \(payment.orderID ?? "") was closed before its charge arrived; nothing was charged")
            }
            return record(payment, status: .succeeded)
        }
    }

    /// Lets a held charge answer.
    func answerCharge() {
        let continuation = state.withLock { state in
            defer { state.pending = nil }
            return state.pending
        }
        continuation?.resume()
    }

    var isHoldingACharge: Bool { state.withLock { $0.pending != nil } }

    /// The payment the provider settled later (a webhook, the reconciler): succeeded.
    func settle(orderID: String, amount: Int64) {
        _ = record(
            NewPayment(orderID: orderID, customerID: nil, amount: amount, currency: "EUR", paymentMethod: PaymentMethodBody(token: "pm")),
            status: .succeeded
        )
    }

    private func record(_ new: NewPayment, status: PaymentStatus, failure: PaymentFailure? = nil) -> PaymentResource {
        let amount = new.amount ?? 0
        let resource = PaymentResource(
            id: "pay_\(new.orderID ?? "")",
            orderID: new.orderID ?? "",
            customerID: new.customerID,
            status: status,
            amount: amount,
            currency: new.currency ?? "EUR",
            captureMethod: .automatic,
            amountCapturable: 0,
            amountCaptured: status == .succeeded ? amount : 0,
            amountRefunded: 0,
            provider: "stub",
            card: nil,
            failure: failure ?? (status == .failed ? PaymentFailure(code: "card_declined", message: "Declined") : nil),
            nextActionURL: nil,
            authorizationExpiresAt: nil,
            refunds: [],
            history: [],
            createdAt: Date(),
            updatedAt: Date()
        )
        state.withLock { $0.payment = resource }
        return resource
    }

    func payment(orderID: String) async throws -> PaymentResource? {
        state.withLock { state in
            guard var payment = state.payment, payment.orderID == orderID else { return nil }
            payment.refunds = state.refunds
            payment.amountRefunded = state.refunds.filter { $0.status == .succeeded }.reduce(0) { $0 + $1.amount }
            return payment
        }
    }

    func refund(orderID: String, amount: Int64?, reason: String, idempotencyKey: String) async throws -> RefundResource {
        try state.withLock { state in
            state.refundKeys.append(idempotencyKey)
            guard let payment = state.payment, payment.status == .succeeded else { throw PaymentError.conflict("nothing to refund") }
            if let earlier = state.refunds.first(where: { $0.id == idempotencyKey }) { return earlier }
            let left = payment.amountCaptured - state.refunds.filter { $0.status != .failed }.reduce(0) { $0 + $1.amount }
            guard left > 0 else { throw PaymentError.conflict("nothing left to refund") }
            let status = state.refundAnswers.isEmpty ? .succeeded : state.refundAnswers.removeFirst()
            let refund = RefundResource(
                id: idempotencyKey,
                paymentID: payment.id,
                amount: min(amount ?? left, left),
                currency: payment.currency,
                reason: reason,
                status: status,
                createdAt: Date()
            )
            state.refunds.append(refund)
            return refund
        }
    }

    func cancel(orderID: String) async throws -> PaymentResource {
        throw PaymentError.conflict("nothing to cancel")
    }

    /// As Payments closes an order: a `canceled` record in place of a payment, which a
    /// later charge finds.
    func closeToCharges(orderID: String, _ closure: ChargeClosure) async throws -> PaymentResource? {
        if let payment = try await payment(orderID: orderID) { return payment.isClosure ? nil : payment }
        state.withLock { _ = $0.closed.insert(orderID) }
        _ = record(
            NewPayment(
                orderID: orderID,
                customerID: closure.customerID,
                amount: closure.amount ?? 0,
                currency: closure.currency ?? "EUR",
                paymentMethod: PaymentMethodBody(token: "none")
            ),
            status: .canceled,
            failure: PaymentFailure(code: PaymentResource.closureCode, message: "Closed")
        )
        return nil
    }

    var closed: Set<String> { state.withLock { $0.closed } }

    var refundKeys: [String] { state.withLock { $0.refundKeys } }
    var charges: Int { state.withLock { $0.charges } }
    var refunded: Int64 { state.withLock { $0.refunds.filter { $0.status == .succeeded }.reduce(0) { $0 + $1.amount } } }
}

/// The time a test moves by hand.
final class ManualClock: Sendable {
    let now = Mutex(Date())
}

/// Checkout's saga with scripted Products and Payments on real SQLite and PostgreSQL: the
/// recovery worker after a lease, a charge that settles after checkout gave up, a refund
/// the provider refuses.
@Suite struct CheckoutTests {
    static let kinds = TestDatabases.kinds()
    static let address = ShippingAddress(name: "Ada", line1: "1 Road", city: "London", postalCode: "N1", country: "GB")

    struct World: Sendable {
        let service: OrderService
        let carts: Carts
        let inventory: StubInventory
        let payments: StubPayments
        let clock: ManualClock
        let database: any Database

        var checkout: Checkout { service.checkout }

        /// Moves the service's clock past every lease.
        func later(_ seconds: TimeInterval = 120) { clock.now.withLock { $0 = $0.addingTimeInterval(seconds) } }

        func recover() async throws { _ = try await service.recoverOnce(logger: TestDatabases.logger) }

        /// A customer's cart with two units of product 1 (10.00 each).
        func cart(customer: Int64 = 7) async throws -> Cart {
            let cart = try await carts.store.customerCart(customer, at: Date())
            return try await carts.setLine(cart, productID: 1, quantity: 2)
        }

        func place(_ cart: Cart, customer: Int64 = 7) async throws -> Order {
            try await checkout.place(
                cart,
                Checkout.Details(
                    customerID: customer,
                    email: "c@example.com",
                    locale: "en",
                    address: CheckoutTests.address,
                    paymentMethod: PaymentMethodBody(token: "pm_card_visa")
                )
            )
        }

        func order(_ id: String) async throws -> Order { try #require(try await checkout.store.order(id: id)) }

        func orderIDs() async throws -> [String] {
            try await database.read { sql in
                try await sql.raw("SELECT id FROM orders ORDER BY seq").all().map { try $0.decode(column: "id", as: String.self) }
            }
        }
    }

    private func with(_ kind: DatabaseKind, _ body: @Sendable (World) async throws -> Void) async throws {
        try await TestDatabases.with(kind) { (database: any Database) async throws in
            try await Migrator(OrderService.migrations, logger: TestDatabases.logger).migrate(database)
            let catalog = StubCatalog([CartsTests.product(1, price: 1000, available: 5)])
            let inventory = StubInventory([1: 5])
            let payments = StubPayments()
            let clock = ManualClock()
            let service = OrderService(
                database: database,
                catalog: catalog,
                inventory: inventory,
                payments: payments,
                users: nil,
                settings: OrderService.Settings(lease: .seconds(60)),
                logger: TestDatabases.logger,
                now: { clock.now.withLock { $0 } }
            )
            try await body(
                World(
                    service: service,
                    carts: service.carts,
                    inventory: inventory,
                    payments: payments,
                    clock: clock,
                    database: database
                )
            )
        }
    }

    /// A charge sent on to another Payments instance while the first (which died) still
    /// claims its key: the order waits on the payment instead of being refused, and is
    /// confirmed once the charge the dead instance made is found.
    @Test(arguments: kinds)
    func aChargeWhoseKeyIsStillClaimedElsewhereIsWaitedOn(_ kind: DatabaseKind) async throws {
        try await with(kind) { world in
            world.payments.script(.claimedElsewhere)
            let placed = try await world.place(try await world.cart())
            #expect(placed.status == .pending)
            #expect(placed.step == .charge)
            #expect(world.inventory.available[1] == 3, "held while the outcome is unknown")
            world.payments.settle(orderID: placed.id, amount: 2000)
            world.later()
            try await world.recover()
            let order = try await world.order(placed.id)
            #expect(order.status == .confirmed)
            #expect(order.stockCommitted)
            #expect(world.inventory.available[1] == 3, "the two units are the order's")
        }
    }

    /// No answer from Payments, and none recorded there when the lease ends: the worker
    /// closes the order to charges before it gives the stock back.
    @Test(arguments: kinds)
    func anOrderWithNoPaymentWhenItsLeaseEndsIsClosedToChargesThenCancelled(_ kind: DatabaseKind) async throws {
        try await with(kind) { world in
            world.payments.script(.unavailable)
            let placed = try await world.place(try await world.cart())
            #expect(placed.status == .pending)
            #expect(placed.step == .charge)
            #expect(world.inventory.available[1] == 3, "held while the outcome is unknown")
            try await world.recover()
            #expect(try await world.order(placed.id).status == .pending, "not before the lease ends")
            #expect(world.payments.closed.isEmpty)
            world.later()
            try await world.recover()
            let order = try await world.order(placed.id)
            #expect(order.status == .cancelled)
            #expect(order.step == .done)
            #expect(world.payments.closed == [placed.id])
            #expect(world.inventory.available[1] == 5)
        }
    }

    /// An earlier pass of the worker closed the order and died before moving it on: the
    /// next pass finds the closure and ends the order as interrupted, not as declined.
    @Test(arguments: kinds)
    func anOrderClosedByAnEarlierPassIsCancelledNotDeclined(_ kind: DatabaseKind) async throws {
        try await with(kind) { world in
            world.payments.script(.unavailable)
            let placed = try await world.place(try await world.cart())
            #expect(placed.status == .pending)
            let closed = try await world.payments.closeToCharges(
                orderID: placed.id,
                ChargeClosure(customerID: 7, amount: placed.total, currency: placed.currency)
            )
            #expect(closed == nil)
            world.later()
            try await world.recover()
            let order = try await world.order(placed.id)
            #expect(order.status == .cancelled)
            #expect(order.paymentFailure == nil)
            #expect(order.paymentID == nil)
            #expect(order.stepReason == "checkout was interrupted before payment; nothing was charged")
            #expect(world.inventory.available[1] == 5)
        }
    }

    /// A declined charge that the provider settles after all (reported by the reconciler or
    /// a webhook, announced with `payment.completed`) after the order ended: refunded, once.
    @Test(arguments: kinds)
    func aChargeThatSettlesAfterCheckoutGaveUpIsRefunded(_ kind: DatabaseKind) async throws {
        try await with(kind) { world in
            world.payments.script(.decline)
            let cart = try await world.cart()
            await #expect(throws: OrderError.self) { try await world.place(cart) }
            let id = try #require(try await world.orderIDs().first)
            var order = try await world.order(id)
            #expect(order.status == .paymentFailed)
            #expect(world.inventory.available[1] == 5)
            let placed = order
            // Then the provider settles the charge after all, and says so.
            world.payments.settle(orderID: placed.id, amount: 2000)
            let completed = try EventEnvelope(
                PaymentCompleted(
                    PaymentEventData(
                        paymentID: "pay_\(placed.id)",
                        orderID: placed.id,
                        customerID: 7,
                        amount: 2000,
                        currency: "EUR",
                        status: .succeeded,
                        amountCaptured: 2000
                    )
                ),
                source: "/payments",
                time: Date(),
                requestID: nil
            )
            let consumer = try #require(world.service.consumers.first)
            #expect(try await Inbox.handle(completed, by: consumer, now: Date()))
            #expect(try await !Inbox.handle(completed, by: consumer, now: Date()), "a duplicate is not applied twice")
            try await world.recover()
            order = try await world.order(placed.id)
            #expect(order.status == .paymentFailed)
            #expect(order.step == .done)
            #expect(order.amountRefunded == 2000)
            #expect(world.payments.refunded == 2000, "every cent of the late charge went back, once")
            try await world.recover()
            #expect(world.payments.refundKeys.count == 1)
            #expect(world.inventory.available[1] == 5)
        }
    }

    /// The request stalls past its lease with its charge still on the way to Payments: the
    /// worker closes the order to charges and gives up, and the charge, when it arrives, is
    /// refused. Nothing is taken, so nothing has to be refunded.
    @Test(arguments: kinds)
    func aChargeArrivingAfterTheWorkerGaveUpIsRefusedAndNothingIsTaken(_ kind: DatabaseKind) async throws {
        try await with(kind) { world in
            world.payments.script(.held)
            let cart = try await world.cart()
            let request = Task { try await world.place(cart) }
            while !world.payments.isHoldingACharge { try await Task.sleep(for: .milliseconds(5)) }
            world.later()
            try await world.recover()
            let id = try #require(try await world.orderIDs().first)
            #expect(try await world.order(id).status == .cancelled)
            #expect(world.payments.closed == [id])
            world.payments.answerCharge()
            let ended = try await request.value
            #expect(ended.status == .cancelled)
            #expect(ended.step == .done)
            #expect(ended.amountRefunded == 0)
            #expect(try await world.payments.payment(orderID: id)?.isClosure == true, "nothing was charged")
            #expect(world.payments.refundKeys.isEmpty)
            #expect(world.inventory.available[1] == 5)
        }
    }

    @Test(arguments: kinds)
    func aRefundTheProviderRefusesIsTriedAgainUnderANewKey(_ kind: DatabaseKind) async throws {
        try await with(kind) { world in
            let placed = try await world.place(try await world.cart())
            #expect(placed.status == .confirmed)
            #expect(world.inventory.available[1] == 3)
            world.payments.state.withLock { $0.refundAnswers = [.failed] }
            let cancelled = try await OrderActions(checkout: world.checkout).cancel(placed.id, reason: "changed my mind", by: 7)
            #expect(cancelled.status == .cancelled)
            #expect(cancelled.step == .refund, "the refund is still owed")
            #expect(cancelled.amountRefunded == 0)
            world.later()
            try await world.recover()
            let order = try await world.order(placed.id)
            #expect(order.step == .done)
            #expect(order.amountRefunded == 2000)
            #expect(world.payments.refunded == 2000)
            #expect(Set(world.payments.refundKeys).count == 2, "the second attempt asked under a new key")
            #expect(world.inventory.available[1] == 5, "and the stock came back")
        }
    }

    @Test(arguments: kinds)
    func aCardOfTheWrongShapeOrATotalNoPaymentTakesWritesNothing(_ kind: DatabaseKind) async throws {
        try await with(kind) { world in
            let cart = try await world.cart()
            await #expect(throws: OrderError.self) {
                try await world.checkout.place(
                    cart,
                    Checkout.Details(
                        customerID: 7,
                        email: "c@example.com",
                        locale: "en",
                        address: Self.address,
                        paymentMethod: PaymentMethodBody(card: CardBody(number: "4242424242424241", expMonth: 1, expYear: 2030))
                    )
                )
            }
            #expect(world.payments.charges == 0)
            #expect(world.inventory.available[1] == 5)
            #expect(try await world.orderIDs().isEmpty, "no order was written")
            // The cart is still free to check out.
            #expect(try await world.place(cart).status == .confirmed)
        }
    }
}
