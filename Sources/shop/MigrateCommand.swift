import ArgumentParser
import Logging
import Platform

/// `shop migrate`: apply pending migrations and exit.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "migrate", abstract: "Apply database migrations and exit.")

    @OptionGroup var common: CommonOptions

    func run() async throws {
        let settings = try common.settings()
        LogSetup.bootstrap(format: settings.logFormat, level: settings.logLevel)
        let logger = Logger(label: "shop")
        let system = try await ShopSystem.open(settings, logger: logger)
        try await system.withDatabases {
            try await system.migrate(logger: logger)
        }
        await system.close()
        logger.info("migrations applied")
    }
}

/// `shop seed`: load demo data so a newcomer sees something at once.
struct SeedCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "seed", abstract: "Load demo data.")

    @OptionGroup var common: CommonOptions

    @Option(help: "How many demo users to register (user1@example.com ...).")
    var users: Int = 100

    @Option(help: "How many demo products to add, with categories and stock (SKUs DEMO-0001 ...).")
    var products: Int = 300

    func validate() throws {
        guard (0...1_000_000).contains(users) else { throw ValidationError("--users must be from 0 to 1000000") }
        guard (0...100_000).contains(products) else { throw ValidationError("--products must be from 0 to 100000") }
    }

    func run() async throws {
        let settings = try common.settings()
        LogSetup.bootstrap(format: settings.logFormat, level: settings.logLevel)
        let logger = Logger(label: "shop")
        let system = try await ShopSystem.open(settings, logger: logger)
        let (count, productCount) = (users, products)
        try await system.withDatabases {
            try await system.migrate(logger: logger)
            try await system.users?.seedDemoUsers(count: count)
            try await system.products?.seedDemoCatalog(count: productCount)
        }
        await system.close()
        logger.info("seeded", metadata: ["users": "\(count)", "products": "\(productCount)"])
    }
}
