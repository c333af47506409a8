import Foundation
import Testing

@testable import Platform

private struct Sample: JSONRequestBody {
    var email: String?
    var count: Int?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case email, count
    }
}

@Suite struct JSONBodyTests {
    private func decode(_ text: String) throws -> Sample {
        try JSONBody.decode(Sample.self, from: Data(text.utf8))
    }

    private func problems(_ text: String) -> [Problem] {
        do {
            _ = try decode(text)
            Issue.record("expected an error for \(text)")
            return []
        } catch let error as APIError {
            return error.problems
        } catch {
            Issue.record("unexpected error \(error)")
            return []
        }
    }

    @Test func aValidObjectDecodes() throws {
        let sample = try decode(#"{"email":"a@b.co","count":3}"#)
        #expect(sample.email == "a@b.co")
        #expect(sample.count == 3)
    }

    @Test func everyUnknownFieldIsNamed() {
        let problems = problems(#"{"email":"a@b.co","emial":"x","zzz":1}"#)
        #expect(
            problems == [
                Problem(.validationError, "Unknown field", field: "emial"),
                Problem(.validationError, "Unknown field", field: "zzz"),
            ]
        )
    }

    @Test(arguments: ["{", "not json", #"{"email": }"#, "\u{FEFF}{]"])
    func unparseableJSONIsMalformed(_ text: String) {
        #expect(problems(text).map(\.code) == [.malformedRequest])
    }

    @Test(arguments: ["[]", "42", #""text""#, "null"])
    func aBodyThatIsNotAnObjectIsMalformed(_ text: String) {
        let problems = problems(text)
        #expect(problems.map(\.code) == [.malformedRequest])
    }

    @Test func anEmptyBodyIsMalformed() {
        #expect(problems("").map(\.code) == [.malformedRequest])
    }

    @Test func aWrongTypeNamesTheField() {
        let problems = problems(#"{"count":"three"}"#)
        #expect(problems == [Problem(.validationError, "Must be an integer", field: "count")])
    }

    @Test func contentTypesAreRecognised() {
        #expect(JSONBody.isJSON("application/json"))
        #expect(JSONBody.isJSON("Application/JSON; charset=utf-8"))
        #expect(JSONBody.isJSON("application/merge-patch+json"))
        #expect(!JSONBody.isJSON("text/plain"))
        #expect(!JSONBody.isJSON("application/x-www-form-urlencoded"))
    }

    @Test func patchFieldsTellAbsentFromNull() throws {
        struct Patch: Decodable {
            var name: PatchField<String>
            enum CodingKeys: String, CodingKey { case name }
            init(from decoder: any Decoder) throws {
                name = try decoder.container(keyedBy: CodingKeys.self).decodePatch(String.self, forKey: .name)
            }
        }
        let decoder = JSONDecoder()
        let absent = try decoder.decode(Patch.self, from: Data("{}".utf8)).name
        let null = try decoder.decode(Patch.self, from: Data(#"{"name":null}"#.utf8)).name
        let value = try decoder.decode(Patch.self, from: Data(#"{"name":"x"}"#.utf8)).name
        guard case .absent = absent, case .null = null, case .value("x") = value else {
            Issue.record("got \(absent), \(null), \(value)")
            return
        }
    }
}
