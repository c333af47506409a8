public import Hummingbird

/// A Hummingbird router served on a free loopback port for the length of a test.
public enum RouterServer {
    /// Serves `router` on a free loopback port, runs `body` with the port, then stops
    /// gracefully (also when `body` throws).
    public static func serve<Context: RequestContext>(_ router: Router<Context>, _ body: (Int) async throws -> Void) async throws
    where Context.Source == ApplicationRequestContextSource {
        try await serveOnLoopback(
            label: "test-server",
            { logger, onPort in
                Application(
                    router: router,
                    configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                    onServerRunning: { onPort($0.localAddress?.port ?? 0) },
                    logger: logger
                )
            },
            body
        )
    }
}
