import Logging
import Platform
import ServiceLifecycle
import Synchronization
import Testing

@Suite struct PeriodicJobTests {
    @Test func aJobRepeatsAndStopsAtGracefulShutdown() async throws {
        let runs = Atomic<Int>(0)
        let job = PeriodicJob("count", every: .milliseconds(10), logger: Logger(label: "test")) {
            runs.add(1, ordering: .relaxed)
        }
        let group = ServiceGroup(services: [job], logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            while runs.load(ordering: .relaxed) < 3 { try await Task.sleep(for: .milliseconds(5)) }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        let afterStop = runs.load(ordering: .relaxed)
        try await Task.sleep(for: .milliseconds(50))
        #expect(runs.load(ordering: .relaxed) == afterStop)
        #expect(afterStop >= 3)
    }
}
