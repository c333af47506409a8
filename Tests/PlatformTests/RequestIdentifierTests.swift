import Foundation
import Platform
import Testing

@Suite struct RequestIdentifierTests {
    @Test func madeIdsHaveThePrefixAndSixteenHexDigits() {
        let id = RequestIdentifier.make()
        #expect(id.hasPrefix("req_"))
        #expect(id.count == 20)
        #expect(id.dropFirst(4).allSatisfy { $0.isHexDigit })
        #expect(RequestIdentifier.validated(id) == id)
    }

    @Test func madeIdsDoNotRepeat() {
        let ids = Set((0..<1000).map { _ in RequestIdentifier.make() })
        #expect(ids.count == 1000)
    }

    @Test(arguments: ["abc", "A.b_c-9", String(repeating: "x", count: 128)])
    func acceptableClientIdsAreKept(_ id: String) {
        #expect(RequestIdentifier.validated(id) == id)
    }

    @Test(arguments: ["", "has space", "semi;colon", "ünïcode", String(repeating: "x", count: 129), "new\nline"])
    func unacceptableClientIdsAreRefused(_ id: String) {
        #expect(RequestIdentifier.validated(id) == nil)
    }
}

@Suite struct RFC3339Tests {
    @Test(arguments: [
        (0.0, "1970-01-01T00:00:00Z"),
        (1_764_065_700.999, "2025-11-25T10:15:00Z"),
        (951_782_400, "2000-02-29T00:00:00Z"),
        (4_102_444_799, "2099-12-31T23:59:59Z"),
    ])
    func timestampsAreWrittenInUTCToTheSecond(_ seconds: Double, _ expected: String) {
        #expect(RFC3339.string(from: Date(timeIntervalSince1970: seconds)) == expected)
    }

    @Test func millisecondsAreRoundedToTheNearest() {
        #expect(RFC3339.string(from: Date(timeIntervalSince1970: 1_764_065_700.125), milliseconds: true) == "2025-11-25T10:15:00.125Z")
        #expect(RFC3339.string(from: Date(timeIntervalSince1970: 1_764_065_700.9996), milliseconds: true) == "2025-11-25T10:15:01.000Z")
        #expect(RFC3339.string(from: Date(timeIntervalSince1970: -0.0004), milliseconds: true) == "1970-01-01T00:00:00.000Z")
        #expect(RFC3339.string(from: Date(timeIntervalSince1970: -0.001), milliseconds: true) == "1969-12-31T23:59:59.999Z")
        #expect(RFC3339.string(from: Date(timeIntervalSince1970: 0), milliseconds: true) == "1970-01-01T00:00:00.000Z")
    }

    /// Foundation's own formatter is the reference: thousands of instants across four
    /// centuries, each written both ways and read back to the millisecond.
    @Test func readingAgreesWithFoundationsFormatter() throws {
        let reference = ISO8601DateFormatter()
        reference.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<3000 {
            let millis = Int64.random(in: -2_208_988_800_000...7_258_118_400_000, using: &generator)
            let date = Date(timeIntervalSince1970: Double(millis) / 1000)
            let written = RFC3339.string(from: date, milliseconds: true)
            #expect(written == reference.string(from: date))
            let read = try #require(RFC3339.date(from: written))
            #expect(Int64((read.timeIntervalSince1970 * 1000).rounded()) == millis)
        }
    }

    @Test(arguments: [
        ("2026-11-25T10:15:00Z", 1_795_601_700.0),
        ("2026-11-25T10:15:00.125Z", 1_795_601_700.125),
        ("2026-11-25t10:15:00.5z", 1_795_601_700.5),
        ("2026-11-25T11:15:00+01:00", 1_795_601_700.0),
        ("2026-11-25T05:45:00-04:30", 1_795_601_700.0),
        ("2024-02-29T00:00:00Z", 1_709_164_800.0),
        ("2026-11-25T10:15:00.123456789123Z", 1_795_601_700.123456789),
    ])
    func offsetsAndFractionsAreRead(_ text: String, _ seconds: Double) throws {
        let date = try #require(RFC3339.date(from: text))
        #expect(abs(date.timeIntervalSince1970 - seconds) < 0.000_001)
    }

    @Test(arguments: [
        "", "2026-11-25", "2026-11-25T10:15:00", "2026-11-25 10:15:00Z", "2026-13-01T00:00:00Z",
        "2025-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "2026-11-25T24:00:00Z", "2026-11-25T10:60:00Z",
        "2026-11-25T10:15:00.Z", "2026-11-25T10:15:00+0100", "2026-11-25T10:15:00Z ", "+2026-11-25T10:15:00Z",
        "2026-1-25T10:15:00Z", "２０２６-11-25T10:15:00Z",
    ])
    func anythingElseIsNotATimestamp(_ text: String) {
        #expect(RFC3339.date(from: text) == nil)
    }
}
