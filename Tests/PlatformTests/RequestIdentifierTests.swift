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
}
