import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Platform
import Synchronization
import TestSupport
import Testing

/// `Idempotency-Key` over a router: a retry while the key is still claimed is `CONFLICT`,
/// unless the route answers it with what the first attempt made.
@Suite struct IdempotencyMiddlewareTests {
    static let key = HTTPField.Name("Idempotency-Key")!

    private func withRouter(
        unfinished: IdempotencyMiddleware.UnfinishedAnswer?,
        _ body: @Sendable (any TestClientProtocol, Held) async throws -> Void
    ) async throws {
        try await TestDatabases.with(.sqlite) { (database: any Database) async throws in
            try await Migrator([IdempotencyStore.migration(1)], logger: TestDatabases.logger).migrate(database)
            let store = IdempotencyStore(database: database)
            var middleware = IdempotencyMiddleware(store: store)
            if let unfinished { middleware = middleware.answeringUnfinished(with: unfinished) }
            let router = Router(context: ShopRequestContext.self)
            router.add(middleware: ErrorMiddleware())
            let held = Held()
            router.group("things").add(middleware: middleware).post { request, context in
                // A request keyed `held-...` stays unfinished until the test lets it go.
                if request.headers[Self.key]?.hasPrefix("held") == true { await held.wait() }
                return Response(status: .created, body: .init(byteBuffer: ByteBuffer(string: "made")))
            }
            try await Application(router: router).test(.router) { client in try await body(client, held) }
        }
    }

    /// Holds requests until released.
    final class Held: Sendable {
        private let state = Mutex<(count: Int, waiting: [CheckedContinuation<Void, Never>])>((0, []))

        func wait() async {
            await withCheckedContinuation { continuation in
                state.withLock { state in
                    state.count += 1
                    state.waiting.append(continuation)
                }
            }
        }

        var count: Int { state.withLock { $0.count } }

        func release() {
            let waiting = state.withLock { state in
                defer { state.waiting = [] }
                return state.waiting
            }
            for continuation in waiting { continuation.resume() }
        }
    }

    /// Sends a request that stays unfinished, and waits until the route holds it.
    private func hold(_ client: any TestClientProtocol, _ held: Held, key: String) async throws -> Task<HTTPResponse.Status, any Error> {
        let before = held.count
        let first = Task { try await client.execute(uri: "/things", method: .post, headers: [Self.key: key]) { $0.status } }
        while held.count == before { try await Task.sleep(for: .milliseconds(5)) }
        return first
    }

    /// A retry while the first request with its key is unfinished: the route's answer when
    /// it has one (what the first request made), `CONFLICT` when it has none; never a
    /// second run of the route.
    @Test func aRetryOfAnUnfinishedRequestGetsTheRoutesAnswerOrConflict() async throws {
        let found = HTTPField.Name("X-Found")!
        try await withRouter(
            unfinished: { _, _, scope, key in
                key == "held-placed" ? Response(status: .accepted, headers: [found: scope]) : nil
            }
        ) { client, held in
            let placed = try await hold(client, held, key: "held-placed")
            let nothing = try await hold(client, held, key: "held-nothing-yet")
            try await client.execute(uri: "/things", method: .post, headers: [Self.key: "held-placed"]) { response in
                #expect(response.status == .accepted)
                #expect(response.headers[found]?.hasSuffix(" POST /things") == true, "the scope the key is kept under")
            }
            try await client.execute(uri: "/things", method: .post, headers: [Self.key: "held-nothing-yet"]) { response in
                #expect(response.status == .conflict)
                #expect(String(buffer: response.body).contains("still being processed"))
            }
            #expect(held.count == 2, "the route ran once per key")
            held.release()
            #expect(try await placed.value == .created)
            #expect(try await nothing.value == .created)
            // Finished, each is replayed as it was.
            try await client.execute(uri: "/things", method: .post, headers: [Self.key: "held-placed"]) { response in
                #expect(response.status == .created)
                #expect(response.headers[IdempotencyMiddleware.replayedHeader] == "true")
            }
        }
    }

    @Test func withoutARouteAnswerAnUnfinishedRequestIsAConflict() async throws {
        try await withRouter(unfinished: nil) { client, held in
            let first = try await hold(client, held, key: "held")
            try await client.execute(uri: "/things", method: .post, headers: [Self.key: "held"]) { response in
                #expect(response.status == .conflict)
            }
            held.release()
            #expect(try await first.value == .created)
        }
    }
}
