import Foundation
import ServiceContract
import Testing

@Suite struct RandomIDTests {
    @Test func randomIdsHaveTheirShapeAndDoNotRepeat() {
        let ids = (0..<2_000).map { _ in RandomID.make("pv") }
        #expect(ids.allSatisfy { RandomID.isValid($0, prefix: "pv") })
        #expect(Set(ids).count == ids.count)
        // 96 random bits: every hex digit position takes many values.
        for position in 3..<27 {
            let digits = Set(ids.map { Array($0.utf8)[position] })
            #expect(digits.count > 8, "position \(position)")
        }
    }

    /// The first 12 hex digits are the time in milliseconds, so an id made in a later
    /// millisecond sorts after one made before it; the last 12 are random.
    @Test func timeOrderedIdsSortByTheirTimeAndDoNotRepeat() throws {
        let startMilliseconds: UInt64 = 1_780_000_000_500
        var ids: [String] = []
        for step in 0..<2_000 {
            let milliseconds = startMilliseconds + UInt64(step)
            // Half a millisecond in, so that no rounding of the Double moves it to the one before.
            let id = RandomID.timeOrdered("ord", at: Date(timeIntervalSince1970: (Double(milliseconds) + 0.5) / 1000))
            #expect(RandomID.isValid(id, prefix: "ord"))
            #expect(try #require(UInt64(id.dropFirst(4).prefix(12), radix: 16)) == milliseconds)
            ids.append(id)
        }
        #expect(ids == ids.sorted())
        let sameMoment = (0..<2_000).map { _ in RandomID.timeOrdered("ord", at: Date(timeIntervalSince1970: 1_780_000_000.5)) }
        #expect(Set(sameMoment).count == sameMoment.count)
    }
}
