import ArgumentParser
import Foundation
import Hummingbird
import Logging
import Platform
import ServiceLifecycle

/// `shop serve`: run the system (or one service) until SIGINT or SIGTERM, then finish
/// in-flight requests and stop.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve", abstract: "Start the HTTP server.")

    @OptionGroup var common: CommonOptions

    @Option(help: "Address to listen on (env HOST, default 127.0.0.1).")
    var host: String?

    @Option(help: "Port to listen on, 0 for any free one (env PORT, default 8080).")
    var port: Int?

    func run() async throws {
        var settings = try common.settings()
        if let host { settings.host = host }
        if let port {
            guard (0...65535).contains(port) else { throw ValidationError("--port must be from 0 to 65535") }
            settings.port = port
        }
        let environment = ProcessInfo.processInfo.environment
        LogSetup.bootstrap(format: settings.logFormat, level: settings.logLevel, metadataProvider: Telemetry.logMetadata(environment))
        let logger = Logger(label: "shop")
        let name = settings.service == .all ? "shop" : "shop-\(settings.service.rawValue)"
        let tracing = try Telemetry.bootstrapTracing(environment, service: name, logger: logger)
        try await ShopSystem.with(settings, logger: logger) { system in
            // Last in the group, so a stop begins with it: readiness fails first.
            let drain = ReadinessDrain(delay: settings.shutdownDrain, logger: logger)
            let group = ServiceGroup(
                configuration: .init(
                    services: (tracing.map { [$0] } ?? []) + system.applications(logger: logger, drain: drain) + [drain],
                    gracefulShutdownSignals: [.sigterm, .sigint],
                    logger: logger
                ).withGrace(settings.shutdownGrace)
            )
            try await group.run()
        }
        logger.notice("stopped")
    }
}

extension ServiceGroupConfiguration {
    func withGrace(_ grace: Duration) -> ServiceGroupConfiguration {
        var configuration = self
        configuration.maximumGracefulShutdownDuration = grace
        return configuration
    }
}
