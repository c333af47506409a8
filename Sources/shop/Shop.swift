import ArgumentParser

/// `shop`: the one binary that runs the whole system or any one service.
@main
struct Shop: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "An e-commerce backend: the gateway and its services.",
        subcommands: [ServeCommand.self, MigrateCommand.self, SeedCommand.self, UsersCommand.self, EventsCommand.self],
        defaultSubcommand: ServeCommand.self
    )
}
