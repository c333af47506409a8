import ArgumentParser
import Logging
import Platform

/// `shop migrate`: apply pending migrations and exit.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "migrate", abstract: "Apply database migrations and exit.")

    @OptionGroup var common: CommonOptions

    func run() async throws {
        let settings = try common.settings(for: .maintenance)
        LogSetup.bootstrap(format: settings.logFormat, level: settings.logLevel)
        let logger = Logger(label: "shop")
        try await ShopSystem.maintain(settings, logger: logger) { _ in }
        logger.info("migrations applied")
    }
}
