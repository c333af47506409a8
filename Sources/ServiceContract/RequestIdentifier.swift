/// Request ids: validated when a client sends one, made at the edge otherwise.
public enum RequestIdentifier {
    /// The longest id a client may send.
    public static let maxLength = 128

    /// The id of the request this task serves, if any (set by ``RequestIDMiddleware``).
    @TaskLocal public static var current: String?

    /// A new id, `req_` and 16 hex digits.
    public static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        let value = generator.next() as UInt64
        let hex = String(value, radix: 16)
        return "req_" + String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// The id a client sent, if it is acceptable: 1 to 128 characters of `[A-Za-z0-9._-]`.
    public static func validated(_ candidate: String) -> String? {
        guard !candidate.isEmpty, candidate.utf8.count <= maxLength else { return nil }
        for byte in candidate.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                continue
            default:
                return nil
            }
        }
        return candidate
    }
}

/// Who is acting in the request this task serves: the user of its bearer token, set by
/// the guard, so events written while serving it name their actor (`actorid`).
public enum RequestActor {
    @TaskLocal public static var userID: Int64?
}

/// The verified bearer token of the request this task serves, set by the guard: a service
/// that calls another on the caller's behalf (Orders reading the customer from Users)
/// passes it on, so the callee decides with the caller's rights, never more.
public enum CallerToken {
    @TaskLocal public static var current: String?
}
