public import Hummingbird
import Logging
import ServiceLifecycle

/// A Hummingbird router served on a free loopback port for the length of a test.
public enum RouterServer {
    public struct DidNotStart: Error {
        public init() {}
    }

    /// Serves `router` on a free loopback port, runs `body` with the port, then stops
    /// gracefully (also when `body` throws).
    public static func serve<Context: RequestContext>(_ router: Router<Context>, _ body: (Int) async throws -> Void) async throws
    where Context.Source == ApplicationRequestContextSource {
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        var logger = Logger(label: "test-server")
        logger.logLevel = .critical
        let app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in
                continuation.yield(channel.localAddress?.port ?? 0)
                continuation.finish()
            },
            logger: logger
        )
        let group = ServiceGroup(services: [app], logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { throw DidNotStart() }
            do {
                try await body(port)
            } catch {
                await group.triggerGracefulShutdown()
                try? await tasks.waitForAll()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }
}
