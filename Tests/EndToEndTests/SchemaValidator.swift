import Foundation

/// Checks a JSON value against a schema of the OpenAPI document (JSON Schema 2020-12 as
/// OpenAPI 3.1 uses it), for every keyword the document uses. A keyword it does not know
/// is itself a violation, so the document cannot grow a rule this validator ignores.
struct SchemaValidator {
    let document: JSONValue

    /// Keywords that constrain a value, all checked below.
    static let assertions: Set<String> = [
        "$ref", "type", "enum", "const", "oneOf", "anyOf", "allOf", "not",
        "properties", "required", "additionalProperties", "propertyNames", "maxProperties", "minProperties",
        "items", "minItems", "maxItems", "uniqueItems",
        "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
        "minLength", "maxLength", "pattern", "format", "writeOnly", "readOnly",
    ]
    /// Keywords that only describe.
    static let annotations: Set<String> = ["description", "title", "default", "example", "examples", "deprecated", "contentMediaType"]
    /// The formats checked; any other is a violation of the document.
    static let formats: Set<String> = ["date", "date-time", "email", "int64", "int32", "uri"]

    /// Whether `value` is a response (then `writeOnly` members must not appear) or a request
    /// (then `readOnly` ones must not).
    var direction = Direction.response

    enum Direction {
        case request
        case response
    }

    /// Every way `value` breaks `schema`, as readable paths; empty when it conforms.
    func violations(of value: JSONValue, against schema: JSONValue, at path: String = "$") -> [String] {
        if case .bool(let allowed) = schema { return allowed ? [] : ["\(path): nothing is allowed here"] }
        guard case .object(let rules) = schema else { return ["\(path): schema is not an object"] }
        var problems = rules.keys.filter { !Self.assertions.contains($0) && !Self.annotations.contains($0) }.sorted().map {
            "\(path): the validator does not know the keyword \($0)"
        }
        if let reference = rules["$ref"]?.string {
            guard let target = resolve(reference) else { return problems + ["\(path): unresolvable \(reference)"] }
            problems += violations(of: value, against: target, at: path)
        }
        if let alternatives = rules["oneOf"]?.array {
            let matching = alternatives.filter { violations(of: value, against: $0, at: path).isEmpty }
            if matching.count != 1 { problems.append("\(path): matches \(matching.count) of oneOf, not exactly 1") }
        }
        if let alternatives = rules["anyOf"]?.array, !alternatives.contains(where: { violations(of: value, against: $0, at: path).isEmpty }) {
            problems.append("\(path): matches none of anyOf")
        }
        for part in rules["allOf"]?.array ?? [] {
            problems += violations(of: value, against: part, at: path)
        }
        if let excluded = rules["not"], violations(of: value, against: excluded, at: path).isEmpty {
            problems.append("\(path): matches what `not` excludes")
        }
        if let types = rules["type"] {
            let allowed = types.array?.compactMap(\.string) ?? [types.string].compactMap { $0 }
            guard allowed.contains(where: { matches(value, type: $0) }) else {
                return problems + ["\(path): \(value) is not of type \(allowed.joined(separator: "|"))"]
            }
        }
        if let options = rules["enum"]?.array, !options.contains(value) {
            problems.append("\(path): \(value) is not one of \(options)")
        }
        if let constant = rules["const"], constant != value {
            problems.append("\(path): \(value) is not \(constant)")
        }
        if let format = rules["format"]?.string, !Self.formats.contains(format) {
            problems.append("\(path): the validator does not know the format \(format)")
        }
        switch value {
        case .object(let object):
            problems += objectViolations(object, rules: rules, at: path)
        case .array(let items):
            if let itemSchema = rules["items"] {
                for (index, item) in items.enumerated() {
                    problems += violations(of: item, against: itemSchema, at: "\(path)[\(index)]")
                }
            }
            if let max = rules["maxItems"]?.integer, items.count > max { problems.append("\(path): more than \(max) items") }
            if let min = rules["minItems"]?.integer, items.count < min { problems.append("\(path): fewer than \(min) items") }
            if rules["uniqueItems"] == .bool(true), Set(items.map { "\($0)" }).count != items.count {
                problems.append("\(path): items repeat")
            }
        case .integer(let number):
            problems += numberViolations(Double(number), rules: rules, at: path)
            if rules["format"]?.string == "int32", Int32(exactly: number) == nil { problems.append("\(path): \(number) is not an int32") }
        case .number(let number):
            problems += numberViolations(number, rules: rules, at: path)
            if ["int64", "int32"].contains(rules["format"]?.string) { problems.append("\(path): \(number) is not an integer") }
        case .string(let text):
            if let min = rules["minLength"]?.integer, text.unicodeScalars.count < min { problems.append("\(path): shorter than \(min)") }
            if let max = rules["maxLength"]?.integer, text.unicodeScalars.count > max { problems.append("\(path): longer than \(max)") }
            if let pattern = rules["pattern"]?.string, text.range(of: pattern, options: .regularExpression) == nil {
                problems.append("\(path): \(text) does not match \(pattern)")
            }
            problems += formatViolations(text, format: rules["format"]?.string, at: path)
        default:
            break
        }
        return problems
    }

    private func objectViolations(_ object: [String: JSONValue], rules: [String: JSONValue], at path: String) -> [String] {
        var problems: [String] = []
        let properties = rules["properties"]?.object ?? [:]
        for name in rules["required"]?.array?.compactMap(\.string) ?? [] where object[name] == nil {
            problems.append("\(path): missing required \(name)")
        }
        if let max = rules["maxProperties"]?.integer, object.count > max { problems.append("\(path): more than \(max) properties") }
        if let min = rules["minProperties"]?.integer, object.count < min { problems.append("\(path): fewer than \(min) properties") }
        for (name, member) in object.sorted(by: { $0.key < $1.key }) {
            if let names = rules["propertyNames"] {
                problems += violations(of: .string(name), against: names, at: "\(path) name \(name)")
            }
            if let propertySchema = properties[name] {
                let hidden = direction == .response ? "writeOnly" : "readOnly"
                if dereference(propertySchema)?[hidden] == .bool(true) {
                    problems.append("\(path): \(name) is \(hidden) and must not be sent")
                }
                problems += violations(of: member, against: propertySchema, at: "\(path).\(name)")
            } else if let additional = rules["additionalProperties"] {
                if additional == .bool(false) {
                    problems.append("\(path): undocumented property \(name)")
                } else {
                    problems += violations(of: member, against: additional, at: "\(path).\(name)")
                }
            }
        }
        return problems
    }

    private func numberViolations(_ number: Double, rules: [String: JSONValue], at path: String) -> [String] {
        var problems: [String] = []
        func bound(_ key: String) -> Double? {
            switch rules[key] {
            case .integer(let value): Double(value)
            case .number(let value): value
            default: nil
            }
        }
        func show(_ value: Double) -> String { value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value) }
        if let min = bound("minimum"), number < min { problems.append("\(path): \(show(number)) < \(show(min))") }
        if let max = bound("maximum"), number > max { problems.append("\(path): \(show(number)) > \(show(max))") }
        if let min = bound("exclusiveMinimum"), number <= min { problems.append("\(path): \(show(number)) <= \(show(min))") }
        if let max = bound("exclusiveMaximum"), number >= max { problems.append("\(path): \(show(number)) >= \(show(max))") }
        if let step = bound("multipleOf"), step > 0, (number / step).rounded() != number / step {
            problems.append("\(path): \(show(number)) is not a multiple of \(show(step))")
        }
        return problems
    }

    private func formatViolations(_ text: String, format: String?, at path: String) -> [String] {
        let shapes = [
            "date": #"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$"#,
            "date-time": #"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$"#,
            "email": #"^[^@\s]+@[^@\s]+\.[^@\s]+$"#,
            "uri": #"^[A-Za-z][A-Za-z0-9+.-]*:"#,
        ]
        guard let format, let shape = shapes[format] else { return [] }
        return text.range(of: shape, options: .regularExpression) == nil ? ["\(path): \(text) is not a \(format)"] : []
    }

    func resolve(_ reference: String) -> JSONValue? {
        guard reference.hasPrefix("#/") else { return nil }
        var node: JSONValue? = document
        for part in reference.dropFirst(2).split(separator: "/") {
            node = node?[String(part)]
        }
        return node
    }

    /// `node`, or what it points to when it is a `$ref`.
    func dereference(_ node: JSONValue?) -> JSONValue? {
        if let reference = node?["$ref"]?.string { return resolve(reference) }
        return node
    }

    private func matches(_ value: JSONValue, type: String) -> Bool {
        switch (type, value) {
        case ("null", .null), ("boolean", .bool), ("integer", .integer), ("number", .integer), ("number", .number),
            ("string", .string), ("array", .array), ("object", .object):
            true
        default:
            false
        }
    }
}
