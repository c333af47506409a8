import ArgumentParser
import Foundation
import Logging
import Platform

/// `shop users`: account administration from the command line.
struct UsersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "users",
        abstract: "Administer accounts.",
        subcommands: [CreateAdminCommand.self]
    )
}

/// `shop users create-admin`: the first admin, or an existing account made admin.
///
/// The password comes from `SHOP_ADMIN_PASSWORD` or the first line of standard input,
/// never from a flag, so it stays out of shell history and process lists.
struct CreateAdminCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create-admin",
        abstract: "Create an admin account, or make an existing account admin."
    )

    @OptionGroup var common: CommonOptions

    @Option(help: "The admin's email address.")
    var email: String

    @Option(help: "The admin's display name (for a new account).")
    var name: String = "Administrator"

    @Flag(help: "Make the existing account with this email admin (anyone may have registered it), ending its sessions.")
    var promoteExisting = false

    func run() async throws {
        let settings = try common.settings(for: .maintenance)
        LogSetup.bootstrap(format: settings.logFormat, level: settings.logLevel)
        let logger = Logger(label: "shop")
        let password = ProcessInfo.processInfo.environment["SHOP_ADMIN_PASSWORD"] ?? readLine(strippingNewline: true)
        let (email, name, promoteExisting) = (self.email, self.name, self.promoteExisting)
        do {
            try await ShopSystem.maintain(settings, logger: logger) { system in
                guard let users = system.users else {
                    throw ValidationError("create-admin needs the Users service: --service all or users")
                }
                let admin = try await users.bootstrapAdmin(
                    email: email,
                    name: name,
                    password: password?.isEmpty == true ? nil : password,
                    promoteExisting: promoteExisting
                )
                print(admin)
            }
        } catch {
            throw ValidationError("\(error)")
        }
    }
}
