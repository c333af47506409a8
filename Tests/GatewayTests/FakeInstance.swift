import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization
import TestSupport

/// A stand-in for one instance of a service: it answers `/health/ready` (200 while
/// ready), and any other request with what it received, so a test can see what the
/// gateway forwarded. It can stop and start again on the same port.
final class FakeInstance: Sendable {
    /// What one forwarded request looked like on arrival.
    struct Seen: Sendable {
        let method: String
        let uri: String
        let headers: HTTPFields
        let bodyDigest: String
        let bodyBytes: Int
    }

    let port: Int
    let name: String
    private let state = Mutex(State())
    /// What the instance answers with, after the request's body is read.
    let answer: @Sendable (Seen) -> Response

    private struct State {
        var ready = true
        var stalled = false
        var seen: [Seen] = []
        var running: (group: ServiceGroup, task: Task<Void, any Error>)?
    }

    init(name: String, port: Int? = nil, answer: @escaping @Sendable (Seen) -> Response = FakeInstance.echo) throws {
        self.name = name
        self.port = try port ?? freePort()
        self.answer = answer
    }

    var address: String { "http://127.0.0.1:\(port)" }
    var seen: [Seen] { state.withLock { $0.seen } }
    var requests: Int { seen.count }

    func setReady(_ ready: Bool) {
        state.withLock { $0.ready = ready }
    }

    /// While stalled, requests other than health checks get no answer.
    func stall(_ stalled: Bool) {
        state.withLock { $0.stalled = stalled }
    }

    /// Answers with the instance's name, and what it saw as headers.
    static func echo(_ seen: Seen) -> Response {
        Response(
            status: .ok,
            headers: [
                .contentType: "text/plain", HTTPField.Name("X-Instance")!: "\(seen.method) \(seen.uri)", .eTag: "\"\(seen.bodyDigest.prefix(8))\"",
            ],
            body: .init(byteBuffer: ByteBuffer(string: seen.bodyDigest))
        )
    }

    func start() async throws {
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        var logger = Logger(label: "fake-\(name)")
        logger.logLevel = .critical
        let app = Application(
            responder: CallbackResponder<BasicRequestContext> { [self] request, _ in try await self.handle(request) },
            configuration: .init(address: .hostname("127.0.0.1", port: port)),
            onServerRunning: { channel in
                continuation.yield(channel.localAddress?.port ?? 0)
                continuation.finish()
            },
            logger: logger
        )
        let group = ServiceGroup(services: [app], logger: logger)
        // A server that cannot start (its port taken) ends the wait for its port too.
        let task = Task {
            defer { continuation.finish() }
            try await group.run()
        }
        state.withLock { $0.running = (group, task) }
        var iterator = ports.makeAsyncIterator()
        guard await iterator.next() != nil else {
            state.withLock { $0.running = nil }
            try await task.value
            throw LocalHTTPServerDidNotStart()
        }
    }

    /// Stops gracefully; the port refuses connections afterwards.
    func stop() async {
        guard
            let running = state.withLock({ state in
                defer { state.running = nil }
                return state.running
            })
        else { return }
        await running.group.triggerGracefulShutdown()
        _ = try? await running.task.value
    }

    private func handle(_ request: Request) async throws -> Response {
        if request.uri.path == "/health/ready" {
            return Response(status: state.withLock { $0.ready } ? .ok : .serviceUnavailable)
        }
        var hash = SHA256()
        var count = 0
        for try await buffer in request.body {
            hash.update(data: Data(buffer.readableBytesView))
            count += buffer.readableBytes
        }
        let digest = hash.finalize().map { String(format: "%02x", $0) }.joined()
        let seen = Seen(method: request.method.rawValue, uri: request.uri.string, headers: request.headers, bodyDigest: digest, bodyBytes: count)
        state.withLock { $0.seen.append(seen) }
        while state.withLock({ $0.stalled }) {
            try? await Task.sleep(for: .milliseconds(20))
        }
        return answer(seen)
    }
}
