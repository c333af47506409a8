import Foundation
import Synchronization
import Testing

@testable import NotificationService

/// The enabled endpoints kept between writes on SQLite: read once, dropped by every change,
/// never kept from a read that overlapped one, and aged out for writers elsewhere.
@Suite struct KeptEndpointsTests {
    private final class Reads: Sendable {
        let count = Mutex(0)
        let answer: [WebhookEndpoint]

        init(_ answer: [WebhookEndpoint]) { self.answer = answer }

        func read() -> [WebhookEndpoint] {
            count.withLock { $0 += 1 }
            return answer
        }
        var total: Int { count.withLock { $0 } }
    }

    private static let endpoint = WebhookEndpoint(
        sequence: 1,
        id: "we_1",
        url: "https://erp.example.com/hooks",
        description: "ERP",
        eventTypes: ["order.confirmed"],
        secret: "whsec_x",
        enabled: true,
        disabledReason: nil,
        failingSince: nil,
        createdAt: Date(),
        updatedAt: Date()
    )

    @Test func theEndpointsAreReadOnceUntilAChange() async throws {
        let kept = KeptEndpoints(maximumAge: .seconds(3600))
        let reads = Reads([Self.endpoint])
        for _ in 0..<5 {
            #expect(try await kept.enabled { reads.read() } == [Self.endpoint])
        }
        #expect(reads.total == 1)
        try await kept.changing {}
        #expect(try await kept.enabled { reads.read() } == [Self.endpoint])
        #expect(reads.total == 2, "a change drops what was kept")
    }

    @Test func aReadThatOverlapsAChangeIsAnsweredButNotKept() async throws {
        let kept = KeptEndpoints(maximumAge: .seconds(3600))
        let reads = Reads([])
        // The change starts while the read is under way, and ends before it does.
        let during = try await kept.enabled {
            try await kept.changing {}
            return reads.read()
        }
        #expect(during.isEmpty)
        _ = try await kept.enabled { reads.read() }
        #expect(reads.total == 2, "the overlapping read was not kept")
        // A read that began while a change was still under way is not kept either.
        let reads2 = Reads([Self.endpoint])
        try await kept.changing {
            _ = try await kept.enabled { reads2.read() }
        }
        _ = try await kept.enabled { reads2.read() }
        #expect(reads2.total == 2)
    }

    @Test func aFailedChangeStillDropsWhatWasKept() async throws {
        struct Refused: Error {}
        let kept = KeptEndpoints(maximumAge: .seconds(3600))
        let reads = Reads([Self.endpoint])
        _ = try await kept.enabled { reads.read() }
        await #expect(throws: Refused.self) { try await kept.changing { throw Refused() } }
        _ = try await kept.enabled { reads.read() }
        #expect(reads.total == 2)
    }

    @Test func whatWasKeptAgesOutForWritersInOtherProcesses() async throws {
        let kept = KeptEndpoints(maximumAge: .milliseconds(50))
        let reads = Reads([Self.endpoint])
        _ = try await kept.enabled { reads.read() }
        try await Task.sleep(for: .milliseconds(120))
        _ = try await kept.enabled { reads.read() }
        #expect(reads.total == 2)
    }
}
