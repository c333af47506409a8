import Foundation
import Testing

/// The contract test is only as good as its validator: these prove it can fail.
@Suite struct SchemaValidatorTests {
    let validator: SchemaValidator

    init() throws {
        let document = try JSONValue.parse(Data(#"""
            {"components": {"schemas": {
              "Thing": {"type": "object", "additionalProperties": false, "required": ["id", "at"],
                        "properties": {"id": {"type": "integer", "minimum": 1}, "at": {"type": "string", "format": "date-time"},
                                       "tag": {"type": ["string", "null"], "enum": ["a", "b", null]}}}
            }}}
            """#.utf8))
        validator = SchemaValidator(document: document)
    }

    private func problems(_ json: String) throws -> [String] {
        validator.violations(of: try JSONValue.parse(Data(json.utf8)), against: .object(["$ref": .string("#/components/schemas/Thing")]))
    }

    @Test func aConformingValuePasses() throws {
        #expect(try problems(#"{"id": 1, "at": "2026-11-25T10:15:00Z", "tag": null}"#).isEmpty)
    }

    @Test func eachKindOfViolationIsCaught() throws {
        #expect(try problems(#"{"id": 1}"#) == ["$: missing required at"])
        #expect(try problems(#"{"id": 1, "at": "2026-11-25T10:15:00Z", "extra": true}"#) == ["$: undocumented property extra"])
        #expect(try problems(#"{"id": "1", "at": "2026-11-25T10:15:00Z"}"#).count == 1)
        #expect(try problems(#"{"id": 0, "at": "2026-11-25T10:15:00Z"}"#) == ["$.id: 0 < 1"])
        #expect(try problems(#"{"id": 1, "at": "2026-11-25 10:15"}"#).count == 1)
        #expect(try problems(#"{"id": 1, "at": "2026-11-25T10:15:00Z", "tag": "c"}"#).count == 1)
        #expect(try problems(#"[]"#).count == 1)
    }
}
