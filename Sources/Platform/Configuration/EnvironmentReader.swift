import Foundation

/// A configuration value that is missing or wrong; the message names the variable.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    public var variable: String
    public var reason: String

    public init(variable: String, reason: String) {
        self.variable = variable
        self.reason = reason
    }

    public var description: String { "\(variable) \(reason)" }
}

/// Reads and validates configuration from environment variables.
public struct EnvironmentReader: Sendable {
    public let values: [String: String]

    public init(_ values: [String: String]) {
        self.values = values
    }

    /// The value of `name`, or `nil` when unset or empty.
    public func string(_ name: String) -> String? {
        guard let value = values[name], !value.isEmpty else { return nil }
        return value
    }

    /// An integer within `range`.
    public func int(_ name: String, in range: ClosedRange<Int>) throws(ConfigurationError) -> Int? {
        guard let raw = string(name) else { return nil }
        guard let value = Int(raw), range.contains(value) else {
            throw ConfigurationError(variable: name, reason: "must be an integer from \(range.lowerBound) to \(range.upperBound), got '\(raw)'")
        }
        return value
    }

    /// One of the raw values of `Choice`.
    public func choice<Choice: RawRepresentable & CaseIterable>(
        _ name: String,
        as type: Choice.Type
    ) throws(ConfigurationError) -> Choice? where Choice.RawValue == String {
        guard let raw = string(name) else { return nil }
        guard let value = Choice(rawValue: raw.lowercased()) else {
            let allowed = Choice.allCases.map(\.rawValue).joined(separator: ", ")
            throw ConfigurationError(variable: name, reason: "must be one of \(allowed), got '\(raw)'")
        }
        return value
    }

    /// A value that `parse` accepts; its ``InvalidValue`` reason is reported with the name.
    public func parsed<Value>(_ name: String, _ parse: (String) throws(InvalidValue) -> Value) throws(ConfigurationError) -> Value? {
        guard let raw = string(name) else { return nil }
        do {
            return try parse(raw)
        } catch {
            throw ConfigurationError(variable: name, reason: error.reason)
        }
    }

    /// `true`/`false` (also `1`/`0`, `yes`/`no`).
    public func bool(_ name: String) throws(ConfigurationError) -> Bool? {
        guard let raw = string(name) else { return nil }
        switch raw.lowercased() {
        case "true", "1", "yes": return true
        case "false", "0", "no": return false
        default: throw ConfigurationError(variable: name, reason: "must be true or false, got '\(raw)'")
        }
    }

    /// A comma-separated list, trimmed, without empty items.
    public func list(_ name: String) -> [String]? {
        guard let raw = string(name) else { return nil }
        return raw.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}
