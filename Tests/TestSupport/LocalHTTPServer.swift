public import Hummingbird
import Logging
import ServiceLifecycle

/// Serves `handle` on a free loopback port for the duration of `body` (which gets the
/// port), then stops gracefully.
public func withLocalHTTPServer<Result: Sendable>(
    label: String,
    _ handle: @escaping @Sendable (Request) async throws -> Response,
    _ body: (Int) async throws -> Result
) async throws -> Result {
    try await serveOnLoopback(
        label: label,
        { logger, onPort in
            Application(
                responder: CallbackResponder<BasicRequestContext> { request, _ in try await handle(request) },
                configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                onServerRunning: { onPort($0.localAddress?.port ?? 0) },
                logger: logger
            )
        },
        body
    )
}

/// Runs the application `makeApplication` builds (it must call `onPort` with the port it
/// took once it listens) for the duration of `body`, then stops it gracefully, never by
/// cancellation: a connection accepted while the server is cancelled trips an assertion
/// in NIO's async channel. Also when `body` throws.
func serveOnLoopback<Result: Sendable>(
    label: String,
    _ makeApplication: (_ logger: Logger, _ onPort: @escaping @Sendable (Int) -> Void) -> any Service,
    _ body: (Int) async throws -> Result
) async throws -> Result {
    let (ports, continuation) = AsyncStream<Int>.makeStream()
    var logger = Logger(label: label)
    logger.logLevel = .critical
    let app = makeApplication(logger) { port in
        continuation.yield(port)
        continuation.finish()
    }
    let services = ServiceGroup(services: [app], logger: logger)
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask {
            // A server that cannot start ends the wait for its port too.
            defer { continuation.finish() }
            try await services.run()
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else {
            try await group.waitForAll()
            throw LocalHTTPServerDidNotStart()
        }
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
public struct LocalHTTPServerDidNotStart: Error {
    public init() {}
}
