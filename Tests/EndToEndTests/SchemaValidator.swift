import Foundation

/// Checks a JSON value against a schema of the OpenAPI document: the subset of JSON
/// Schema our document uses ($ref, type, properties, required, additionalProperties,
/// items, enum, const, oneOf, bounds, lengths, pattern, date-time).
struct SchemaValidator {
    let document: JSONValue

    /// Every way `value` breaks `schema`, as readable paths; empty when it conforms.
    func violations(of value: JSONValue, against schema: JSONValue, at path: String = "$") -> [String] {
        guard case .object(var rules) = schema else { return ["\(path): schema is not an object"] }
        if let reference = rules["$ref"]?.string {
            guard let target = resolve(reference) else { return ["\(path): unresolvable \(reference)"] }
            return violations(of: value, against: target, at: path)
        }
        var problems: [String] = []
        if let alternatives = rules.removeValue(forKey: "oneOf")?.array {
            let matching = alternatives.filter { violations(of: value, against: $0, at: path).isEmpty }
            if matching.count != 1 { problems.append("\(path): matches \(matching.count) of oneOf, not exactly 1") }
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
        switch value {
        case .object(let object):
            let properties = rules["properties"]?.object ?? [:]
            for name in rules["required"]?.array?.compactMap(\.string) ?? [] where object[name] == nil {
                problems.append("\(path): missing required \(name)")
            }
            for (name, member) in object {
                if let propertySchema = properties[name] {
                    problems += violations(of: member, against: propertySchema, at: "\(path).\(name)")
                } else if rules["additionalProperties"] == .bool(false) {
                    problems.append("\(path): undocumented property \(name)")
                }
            }
        case .array(let items):
            if let itemSchema = rules["items"] {
                for (index, item) in items.enumerated() {
                    problems += violations(of: item, against: itemSchema, at: "\(path)[\(index)]")
                }
            }
            if let max = rules["maxItems"]?.integer, items.count > max { problems.append("\(path): more than \(max) items") }
            if let min = rules["minItems"]?.integer, items.count < min { problems.append("\(path): fewer than \(min) items") }
        case .integer(let number):
            if let min = rules["minimum"]?.integer, number < min { problems.append("\(path): \(number) < \(min)") }
            if let max = rules["maximum"]?.integer, number > max { problems.append("\(path): \(number) > \(max)") }
        case .string(let text):
            if let min = rules["minLength"]?.integer, text.unicodeScalars.count < min { problems.append("\(path): shorter than \(min)") }
            if let max = rules["maxLength"]?.integer, text.unicodeScalars.count > max { problems.append("\(path): longer than \(max)") }
            if let pattern = rules["pattern"]?.string, text.range(of: pattern, options: .regularExpression) == nil {
                problems.append("\(path): \(text) does not match \(pattern)")
            }
            if rules["format"]?.string == "date-time",
                text.range(of: #"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$"#, options: .regularExpression) == nil
            {
                problems.append("\(path): \(text) is not an RFC 3339 UTC timestamp")
            }
        default:
            break
        }
        return problems
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
