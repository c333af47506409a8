import Foundation
import Gateway
import Testing

/// The contract test is only as good as its validator: these prove it can fail.
@Suite struct SchemaValidatorTests {
    let validator: SchemaValidator

    init() throws {
        let document = try JSONValue.parse(
            Data(
                #"""
                {"components": {"schemas": {
                  "Thing": {"type": "object", "additionalProperties": false, "required": ["id", "at"],
                            "properties": {"id": {"type": "integer", "minimum": 1}, "at": {"type": "string", "format": "date-time"},
                                           "tag": {"type": ["string", "null"], "enum": ["a", "b", null]}}}
                }}}
                """#.utf8
            )
        )
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

    private func problems(_ json: String, against schema: String) throws -> [String] {
        validator.violations(of: try JSONValue.parse(Data(json.utf8)), against: try JSONValue.parse(Data(schema.utf8)))
    }

    @Test func everyKeywordTheDocumentUsesCanFail() throws {
        let attributes =
            #"{"type":"object","maxProperties":2,"propertyNames":{"pattern":"^[a-z]+$"},"additionalProperties":{"type":"string","maxLength":3}}"#
        #expect(try problems(#"{"ab":"xyz"}"#, against: attributes).isEmpty)
        #expect(try problems(#"{"ab":"wxyz"}"#, against: attributes) == ["$.ab: longer than 3"], "additionalProperties as a schema")
        #expect(try problems(#"{"Ab":"x"}"#, against: attributes).count == 1, "propertyNames")
        #expect(try problems(#"{"a":"x","b":"y","c":"z"}"#, against: attributes) == ["$: more than 2 properties"])
        #expect(try problems(#""not an email""#, against: #"{"type":"string","format":"email"}"#).count == 1)
        #expect(try problems(#"1.5"#, against: #"{"type":"number","format":"int64"}"#).count == 1)
        #expect(try problems(#"{"a":1}"#, against: #"{"allOf":[{"required":["a"]},{"required":["b"]}]}"#) == ["$: missing required b"])
        #expect(try problems(#"3"#, against: #"{"anyOf":[{"type":"string"},{"type":"boolean"}]}"#) == ["$: matches none of anyOf"])
        #expect(try problems(#"{"a":1}"#, against: #"{"not":{"required":["a"]}}"#) == ["$: matches what `not` excludes"])
        #expect(
            try problems(#"{"secret":"x"}"#, against: #"{"properties":{"secret":{"type":"string","writeOnly":true}}}"#)
                == ["$: secret is writeOnly and must not be sent"],
            "a response never carries a writeOnly member"
        )
        #expect(try problems(#"0"#, against: #"{"exclusiveMinimum":0}"#).count == 1)
        #expect(try problems(#"1"#, against: #"{"type":"integer","maximum":0}"#) == ["$: 1 > 0"])
    }

    @Test func aKeywordOrFormatTheValidatorDoesNotKnowIsAViolation() throws {
        #expect(
            try problems(#""x""#, against: #"{"type":"string","dependentRequired":{}}"#)
                == ["$: the validator does not know the keyword dependentRequired"]
        )
        #expect(try problems(#""x""#, against: #"{"type":"string","format":"ipv6"}"#) == ["$: the validator does not know the format ipv6"])
    }
}

/// The whole document, walked: every schema keyword and format in it is one the
/// validator checks, so no rule of the contract goes unchecked.
@Suite struct DocumentKeywordTests {
    @Test func theValidatorKnowsEveryKeywordAndFormatOfTheDocument() throws {
        let document = try JSONValue.parse(Data(Gateway.openAPIDocument))
        var unknown: Set<String> = []
        func schema(_ node: JSONValue) {
            guard case .object(let rules) = node else { return }
            for (keyword, value) in rules {
                if !SchemaValidator.assertions.contains(keyword) && !SchemaValidator.annotations.contains(keyword) { unknown.insert(keyword) }
                if keyword == "format", let format = value.string, !SchemaValidator.formats.contains(format) { unknown.insert("format \(format)") }
                switch keyword {
                case "properties": value.object?.values.forEach(schema)
                case "items", "not", "additionalProperties", "propertyNames": schema(value)
                case "oneOf", "anyOf", "allOf": value.array?.forEach(schema)
                default: break
                }
            }
        }
        func walk(_ node: JSONValue) {
            switch node {
            case .object(let members):
                for (key, value) in members {
                    if key == "schema" { schema(value) } else if key == "schemas" { value.object?.values.forEach(schema) } else { walk(value) }
                }
            case .array(let items): items.forEach(walk)
            default: break
            }
        }
        walk(document)
        #expect(unknown.isEmpty, "unchecked: \(unknown.sorted())")
    }
}
