public import Hummingbird
import Logging
import ServiceLifecycle

/// Serves `handle` on a free loopback port for the duration of `body` (which gets the
/// port), then stops gracefully, never by cancellation: a connection accepted while the
/// server is cancelled trips an assertion in NIO's async channel.
public func withLocalHTTPServer<Result: Sendable>(
    label: String,
    _ handle: @escaping @Sendable (Request) async throws -> Response,
    _ body: (Int) async throws -> Result
) async throws -> Result {
    let (ports, continuation) = AsyncStream<Int>.makeStream()
    var logger = Logger(label: label)
    logger.logLevel = .critical
    let app = Application(
        responder: CallbackResponder<BasicRequestContext> { request, _ in try await handle(request) },
        configuration: .init(address: .hostname("127.0.0.1", port: 0)),
        onServerRunning: { channel in
            continuation.yield(channel.localAddress?.port ?? 0)
            continuation.finish()
        },
        logger: logger
    )
    let services = ServiceGroup(services: [app], logger: logger)
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await services.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw LocalHTTPServerDidNotStart() }
        let result: Result
        do {
            result = try await body(port)
        } catch {
            await services.triggerGracefulShutdown()
            try? await group.waitForAll()
            throw error
        }
        await services.triggerGracefulShutdown()
        try await group.waitForAll()
        return result
    }
}

/// The local server never said which port it took.
public struct LocalHTTPServerDidNotStart: Error {}
