import Logging
import Platform
import ServiceLifecycle
import Synchronization
import Testing

@Suite struct PeriodicJobTests {
    /// Runs `job` in a service group until `done()`, then shuts the group down gracefully.
    private func run(_ job: PeriodicJob, until done: @escaping @Sendable () -> Bool) async throws {
        let group = ServiceGroup(services: [job], logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            while !done() { try await Task.sleep(for: .milliseconds(5)) }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    @Test func aJobRepeatsAndStopsAtGracefulShutdown() async throws {
        let runs = Atomic<Int>(0)
        let job = PeriodicJob("count", every: .milliseconds(10), logger: Logger(label: "test")) {
            runs.add(1, ordering: .relaxed)
        }
        try await run(job) { runs.load(ordering: .relaxed) >= 3 }
        let afterStop = runs.load(ordering: .relaxed)
        try await Task.sleep(for: .milliseconds(50))
        #expect(runs.load(ordering: .relaxed) == afterStop)
        #expect(afterStop >= 3)
    }

    /// A job that fails run after run says so once (then once a minute), and says when it
    /// works again, with how many runs failed.
    @Test func aJobThatKeepsFailingSaysSoOnceAndWhenItWorksAgain() async throws {
        let said = Said()
        let logger = Logger(label: "test") { _ in said }
        let runs = Atomic<Int>(0)
        struct Down: Error {}
        let job = PeriodicJob("flaky", every: .milliseconds(5), logger: logger) {
            if runs.add(1, ordering: .relaxed).newValue <= 6 { throw Down() }
        }
        try await run(job) { runs.load(ordering: .relaxed) >= 9 }
        let lines = said.lines.withLock { $0 }
        #expect(lines.map(\.message) == ["periodic job failed", "periodic job works again"])
        #expect(lines.first?.failures == "1")
        #expect(lines.last?.failures == "6")
    }
}

/// Keeps what a logger said.
final class Said: LogHandler, Sendable {
    let lines = Mutex<[(message: String, failures: String?)]>([])
    var logLevel: Logger.Level {
        get { .trace }
        set {}
    }
    var metadata: Logger.Metadata {
        get { [:] }
        set {}
    }
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { nil }
        set {}
    }

    func log(event: LogEvent) {
        lines.withLock { $0.append(("\(event.message)", event.metadata?["failures"].map { "\($0)" })) }
    }
}
