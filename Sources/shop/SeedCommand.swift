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

    @Option(help: "How many demo payments to make through the test network (orders demo-order-0001 ...).")
    var payments: Int = 20

    func validate() throws {
        guard (0...1_000_000).contains(users) else { throw ValidationError("--users must be from 0 to 1000000") }
        guard (0...100_000).contains(products) else { throw ValidationError("--products must be from 0 to 100000") }
        guard (0...10_000).contains(payments) else { throw ValidationError("--payments must be from 0 to 10000") }
    }

    func run() async throws {
        let settings = try common.settings(for: .maintenance)
        LogSetup.bootstrap(format: settings.logFormat, level: settings.logLevel)
        let logger = Logger(label: "shop")
        let (userCount, productCount, paymentCount) = (users, products, payments)
        try await ShopSystem.maintain(settings, logger: logger) { system in
            try await system.users?.demoUsers.seed(count: userCount)
            try await system.products?.demoCatalog.seed(count: productCount) { done in
                // A long seed (100,000 products) says how far it got every 10,000.
                if done % 10_000 == 0 || done == productCount {
                    logger.info("seeding products", metadata: ["done": "\(done)", "of": "\(productCount)"])
                }
            }
            // Demo payments belong to the first demo customers (ids from 2: the first
            // account of a fresh system is usually its admin).
            try await system.payments?.demoPayments.seed(count: paymentCount, customers: Array(2...11))
        }
        logger.info("seeded", metadata: ["users": "\(userCount)", "products": "\(productCount)", "payments": "\(paymentCount)"])
    }
}
