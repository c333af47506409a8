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
