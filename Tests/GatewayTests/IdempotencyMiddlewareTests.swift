import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Platform
import Synchronization
import TestSupport
import Testing

/// `Idempotency-Key` over a router: a retry while the key is still claimed is `CONFLICT`
/// and never a second run; once the first has answered, the retry is its answer replayed.
@Suite struct IdempotencyMiddlewareTests {
    static let key = HTTPField.Name("Idempotency-Key")!

    private func withRouter(
        _ body: @Sendable (any TestClientProtocol, Held) async throws -> Void
    ) async throws {
        try await TestDatabases.with(.sqlite) { (database: any Database) async throws in
            try await Migrator([IdempotencyStore.migration(1)], logger: TestDatabases.logger).migrate(database)
            let store = IdempotencyStore(database: database)
            let middleware = IdempotencyMiddleware(store: store)
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

    @Test func aRetryOfAnUnfinishedRequestIsAConflictAndOfAFinishedOneItsAnswer() async throws {
        try await withRouter { client, held in
            let first = try await hold(client, held, key: "held")
            try await client.execute(uri: "/things", method: .post, headers: [Self.key: "held"]) { response in
                #expect(response.status == .conflict)
                #expect(String(buffer: response.body).contains("still being processed"))
            }
            #expect(held.count == 1, "the route ran once")
            held.release()
            #expect(try await first.value == .created)
            try await client.execute(uri: "/things", method: .post, headers: [Self.key: "held"]) { response in
                #expect(response.status == .created)
                #expect(String(buffer: response.body) == "made")
                #expect(response.headers[IdempotencyMiddleware.replayedHeader] == "true")
            }
            #expect(held.count == 1, "replayed, not run again")
        }
    }
}
