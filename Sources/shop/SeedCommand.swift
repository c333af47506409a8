import ArgumentParser
import Logging
import Platform

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
        let settings = try common.settings(for: .maintenance)
        LogSetup.bootstrap(format: settings.logFormat, level: settings.logLevel)
        let logger = Logger(label: "shop")
        let (userCount, productCount) = (users, products)
        try await ShopSystem.maintain(settings, logger: logger) { system in
            try await system.users?.demoUsers.seed(count: userCount)
            try await system.products?.demoCatalog.seed(count: productCount) { done in
                // A long seed (100,000 products) says how far it got every 10,000.
                if done % 10_000 == 0 || done == productCount {
                    logger.info("seeding products", metadata: ["done": "\(done)", "of": "\(productCount)"])
                }
            }
        }
        logger.info("seeded", metadata: ["users": "\(userCount)", "products": "\(productCount)"])
    }
}
